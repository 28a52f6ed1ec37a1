"""The storage contract: every backend of the article store, the event log and the embedding
cache passes the same tests: SQLite, PostgreSQL (the real server, a schema per test) and in
memory."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from recommender.articles import Article
from recommender.errors import StoreUnavailable
from recommender.events import Event
from recommender.store import SqliteStore
from recommender.store.migrations import POSTGRES, SQLITE
from recommender.store.postgres import PostgresStore
from tests.servers import Opener, postgres_schema


def test_articles_events_and_embeddings_survive_reopen(open_backend: Opener) -> None:
    store = open_backend()
    store.upsert_articles(
        [Article(id="a", title="A", url="https://x/a"), Article(id="b", title="B")]
    )
    store.upsert_articles([Article(id="a", title="A2", url="https://x/a")])
    store.add_events([Event(1.0, "click", "a", "s1"), Event(2.0, "view", "b")])
    store.put_embeddings([("k1", np.array([0.6, 0.8], dtype=np.float32))])
    store.close()

    reopened = open_backend()
    got = reopened.get_article("a")
    assert got is not None and got.title == "A2"
    assert reopened.get_article("zz") is None
    assert len(list(reopened.iter_articles())) == 2
    assert [e.article_id for e in reopened.iter_events()] == ["a", "b"]
    assert [e.article_id for e in reopened.iter_events(since_ts=1.5)] == ["b"]
    assert reopened.count_events() == 2
    cached = reopened.get_embeddings(["k1", "missing"])
    assert list(cached) == ["k1"]
    np.testing.assert_allclose(cached["k1"], [0.6, 0.8])
    reopened.close()


def test_iter_articles_since_seq_returns_only_later_changes(open_backend: Opener) -> None:
    store = open_backend()
    assert store.max_seq() == 0
    store.upsert_articles([Article(id=str(i), title=f"t{i}") for i in range(5)])
    seq = store.max_seq()
    store.upsert_articles([Article(id="2", title="changed"), Article(id="9", title="new")])
    assert store.max_seq() > seq
    assert sorted(a.id for a in store.iter_articles(since_seq=seq)) == ["2", "9"]
    assert [a.id for a in store.iter_articles(chunk=2)] == ["0", "1", "2", "3", "4", "9"]
    store.close()


def test_count_published_ignores_unpublished(open_backend: Opener) -> None:
    store = open_backend()
    store.upsert_articles(
        [Article(id="a", title="A"), Article(id="b", title="B", status="unpublished")]
    )
    assert store.count_published() == 1 and len(list(store.iter_articles())) == 2
    store.close()


def test_sqlite_store_uses_wal(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "db.sqlite")
    mode = store._conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    store.close()


def test_events_written_uncounted_are_handed_over_once(open_backend: Opener) -> None:
    store = open_backend()
    counted = store.add_events([Event(1.0, "click", "a"), Event(2.0, "click", "b")])
    assert len(counted) == 2 and counted == sorted(counted)
    store.add_events([Event(3.0, "click", "c")], counted=False)
    store.mark_uncounted(counted[1:])  # written, but the counting failed afterwards
    taken: list[list[str]] = []

    def failing(events: list[Event]) -> None:
        raise RuntimeError("counter down")

    with pytest.raises(RuntimeError):
        store.take_uncounted(failing)
    assert store.take_uncounted(lambda events: taken.append([e.article_id for e in events])) == 2
    assert taken == [["b", "c"]]
    assert store.take_uncounted(lambda events: taken.append([])) == 0
    assert store.count_events() == 3
    store.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_schema_is_versioned(kind: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)  # the migration log line is part of what runs
    if kind == "sqlite":
        first = SqliteStore(tmp_path / "db.sqlite")
        assert first.schema_version() == SQLITE[-1].version
        first.close()
        again = SqliteStore(tmp_path / "db.sqlite")
        assert again.schema_version() == SQLITE[-1].version
        again.close()
        return
    with postgres_schema() as url:
        stores = [PostgresStore(url, pool_size=1) for _ in range(2)]  # the second finds it done
        assert [s.schema_version() for s in stores] == [POSTGRES[-1].version] * 2
        for store in stores:
            store.close()


def test_sqlite_database_from_before_versioning_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    for statement in SQLITE[0].statements:
        conn.execute(statement)
    conn.execute("INSERT INTO events (ts, type, article_id) VALUES (1.0, 'click', 'a')")
    conn.commit()
    conn.close()
    store = SqliteStore(path)
    assert store.schema_version() == SQLITE[-1].version
    assert [e.article_id for e in store.iter_events()] == ["a"]
    assert store.take_uncounted(lambda events: None) == 0  # old events count as counted
    store.close()


def test_unreachable_postgres_is_a_named_error() -> None:
    with pytest.raises(StoreUnavailable, match="cannot connect"):
        PostgresStore("postgresql://root@127.0.0.1:9/test", timeout=1)


def test_an_event_id_is_stored_once_also_when_the_store_is_asked_twice(
    open_backend: Opener,
) -> None:
    """The store itself turns a retry away (two replicas may both take it before either has
    stored it), not only the intake's look-up before writing."""
    store = open_backend()
    first = store.add_events([Event(1.0, "click", "a", event_id="x"), Event(2.0, "view", "b")])
    assert len(first) == 2
    again = open_backend()
    retried = again.add_events(
        [Event(3.0, "click", "a", event_id="x"), Event(4.0, "click", "c", event_id="z")]
    )
    assert len(retried) == 1 and retried[0] > max(first)
    assert again.count_events() == 3
    assert [e.article_id for e in again.iter_events()] == ["a", "b", "c"]
    assert again.seen_event_ids(["x", "y", "z"]) == {"x", "z"}
    assert again.add_events([Event(5.0, "click", "a", event_id="x")]) == []
    again.close()
