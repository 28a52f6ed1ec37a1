from __future__ import annotations

from pathlib import Path

import numpy as np

from recommender.articles import Article
from recommender.store import Event, Store


def test_articles_events_and_embeddings_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    store = Store(path)
    store.upsert_articles(
        [Article(id="a", title="A", url="https://x/a"), Article(id="b", title="B")]
    )
    store.upsert_articles([Article(id="a", title="A2", url="https://x/a")])
    store.add_events([Event(1.0, "click", "a", "s1"), Event(2.0, "view", "b")])
    store.put_embeddings([("k1", np.array([0.6, 0.8], dtype=np.float32))])
    store.close()

    reopened = Store(path)
    got = reopened.get_article("a")
    assert got is not None and got.title == "A2"
    assert reopened.find_by_url("https://x/a") is not None
    assert reopened.count_articles() == 2
    assert [e.article_id for e in reopened.iter_events()] == ["a", "b"]
    cached = reopened.get_embeddings(["k1", "missing"])
    assert list(cached) == ["k1"]
    np.testing.assert_allclose(cached["k1"], [0.6, 0.8])
    reopened.close()


def test_iter_articles_since_seq_returns_only_later_changes(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite")
    store.upsert_articles([Article(id=str(i), title=f"t{i}") for i in range(5)])
    seq = store.max_seq()
    store.upsert_articles([Article(id="2", title="changed"), Article(id="9", title="new")])
    assert sorted(a.id for a in store.iter_articles(since_seq=seq)) == ["2", "9"]
    assert len(list(store.iter_articles(chunk=2))) == 6
    store.close()


def test_store_uses_wal(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite")
    mode = store._conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    store.close()


def test_count_published_ignores_unpublished(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite")
    store.upsert_articles(
        [Article(id="a", title="A"), Article(id="b", title="B", status="unpublished")]
    )
    assert store.count_published() == 1 and store.count_articles() == 2
    store.close()
