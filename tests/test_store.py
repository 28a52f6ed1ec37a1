"""The storage contract: every backend of the article store, the event log and the embedding
cache passes the same tests (SQLite and in memory today; PostgreSQL plugs in here)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from recommender.articles import Article
from recommender.events import Event
from recommender.store import MemoryStore, SqliteStore, Store

Opener = Callable[[], Store]


@pytest.fixture(params=["sqlite", "memory"])
def open_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens the same store again each call (the memory one lives as long as the test)."""
    if request.param == "sqlite":
        yield lambda: SqliteStore(tmp_path / "db.sqlite")
    else:
        shared = MemoryStore()
        yield lambda: shared


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
