"""Precomputed lexical neighbour lists against the live "more like this" search they replace:
equal right after they are computed, close after the corpus grew by half through publishes
(the IDF drift rule), never a removed article, kept through compaction and save/load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recommender.component_configs import LexicalListsConfig
from recommender.lexical import LexicalSearch
from recommender.lexical.index import LexicalIndex
from recommender.lexical.listed import Listed, ListedLexical
from recommender.lexical.lists import LISTS_FILE
from recommender.lexical.query_rows import ForwardScores, QueryRows
from recommender.lexical.row_sums import ChosenSums, relative
from tests.factories import article, small_corpus

Doc = tuple[str, list[str], str]


def random_doc(rng: np.random.Generator, name: str, topics: int = 40) -> Doc:
    """A story on one of a few topics: words of its topic, plus common words of every story."""
    topic = int(rng.integers(topics))
    own = [f"topic{topic}w{w}" for w in rng.integers(0, 30, size=int(rng.integers(3, 15)))]
    zipf = 1.0 / np.arange(1, 301)
    common = [f"w{w}" for w in rng.choice(300, size=int(rng.integers(10, 60)), p=zipf / zipf.sum())]
    return name, own + common, ""


def listed_corpus(
    rng: np.random.Generator, size: int, config: LexicalListsConfig
) -> tuple[LexicalIndex, ListedLexical]:
    index = LexicalIndex()
    listed = ListedLexical(index, config)
    docs = [random_doc(rng, f"d{i}") for i in range(size)]
    index.upsert_many(docs)
    listed.after_write([d[0] for d in docs])
    return index, listed


def assert_same_ranking(got: list[tuple[str, float]], live: list[tuple[str, float]]) -> None:
    """The same scores in the same order; the same ids up to the order of equal scores."""
    np.testing.assert_allclose([s for _, s in got], [s for _, s in live], rtol=1e-9)
    last = live[-1][1] if live else 0.0
    assert {i for i, s in got if s > last + 1e-9} == {i for i, s in live if s > last + 1e-9}


def overlap_at(index: LexicalIndex, listed: ListedLexical, k: int) -> float:
    """Mean share of the lists' top k that the live search ranks in its top k (ties counted:
    every article scoring at least the live k-th score), over every article."""
    shares = []
    for article_id in index.rows:
        live = index.neighbours(article_id, 4 * k)
        if len(live) >= k:
            fits = {i for i, score in live if score >= live[k - 1][1] - 1e-9}
            got = [i for i, _ in listed.neighbours(article_id, k)]
            shares.append(sum(i in fits for i in got) / k)
    return float(np.mean(shares))


@pytest.mark.parametrize("seed", range(3))
def test_lists_equal_the_live_search_when_computed(seed: int) -> None:
    rng = np.random.default_rng(seed)
    index, listed = listed_corpus(rng, 800, LexicalListsConfig(depth=40))
    assert listed.lists is not None and listed.lists.known[:800].all()
    ids = list(index.rows)
    for article_id in ids[::7]:
        assert_same_ranking(listed.neighbours(article_id, 30), index.neighbours(article_id, 30))
        candidates = [ids[i] for i in rng.choice(len(ids), 150).tolist()] + ["nope", article_id]
        np.testing.assert_allclose(
            listed.similarities(article_id, candidates),
            index.similarities(article_id, candidates),
            rtol=1e-9,
        )


def publish_half_again(
    rng: np.random.Generator, index: LexicalIndex, listed: ListedLexical
) -> None:
    """Grow the corpus by half one article at a time, with updates and removals between."""
    size = len(index)
    for n in range(size // 2):
        doc = random_doc(rng, f"new{n}")
        index.upsert_many([doc])
        listed.after_write([doc[0]])
        if n % 10 == 0:  # an update: the old row dies, a new one enters
            update = random_doc(rng, f"d{int(rng.integers(size))}")
            index.upsert_many([update])
            listed.after_write([update[0]])
        if n % 15 == 0:
            index.remove([f"d{int(rng.integers(size))}"])
            listed.after_write([])


def test_after_many_publishes_lists_stay_close_to_the_live_search() -> None:
    rng = np.random.default_rng(7)
    index, listed = listed_corpus(rng, 600, LexicalListsConfig(depth=40))
    publish_half_again(rng, index, listed)
    # measured 0.99+; the bound leaves room for other random corpora, not for a broken insert
    assert overlap_at(index, listed, 10) >= 0.95
    for n in range(0, 300, 29):  # a new article's own list is exact when it is published...
        assert f"new{n}" in index.rows
    fresh = random_doc(rng, "fresh")
    index.upsert_many([fresh])
    listed.after_write(["fresh"])
    assert_same_ranking(listed.neighbours("fresh", 20), index.neighbours("fresh", 20))


def test_without_inserts_and_refresh_the_lists_fall_behind() -> None:
    """What the test above guards: lists left as computed miss the new articles."""
    rng = np.random.default_rng(7)
    index, listed = listed_corpus(rng, 600, LexicalListsConfig(depth=40, refresh_per_write=0))
    frozen = ListedLexical(index, LexicalListsConfig(depth=40))
    frozen.lists = listed.lists
    for n in range(300):
        index.upsert_many([random_doc(rng, f"new{n}")])  # never told: no inserts
    frozen._cache.clear()
    assert overlap_at(index, frozen, 10) < 0.8


def test_refresh_computes_stale_lists_again_oldest_first() -> None:
    rng = np.random.default_rng(3)
    config = LexicalListsConfig(depth=30, refresh_share=0.05, refresh_per_write=5)
    index, listed = listed_corpus(rng, 400, config)
    assert listed.lists is not None
    assert listed.refresh(100) == 0  # nothing has changed
    computed = index.changes
    for n in range(30):  # stale after 5% of 400 (20) changes: 10 writes refresh 5 each
        index.upsert_many([random_doc(rng, f"new{n}")])
        listed.after_write([f"new{n}"])
    stamps = listed.lists.stamp[: len(index.ids)]
    refreshed = np.flatnonzero(stamps > computed)[:-30]  # the new articles' own lists aside
    assert 5 * 8 <= len(refreshed) <= 5 * 11
    assert listed.refresh(10_000) > 0
    assert listed.refresh(10_000) == 0


def test_removed_articles_are_gone_at_once_and_short_lists_fall_back() -> None:
    rng = np.random.default_rng(11)
    index, listed = listed_corpus(rng, 500, LexicalListsConfig(depth=20))
    target = "d0"
    listed_ids = [i for i, _ in listed.neighbours(target, 20)]
    index.remove(listed_ids[:15])
    listed.after_write([])
    got = listed.neighbours(target, 10)  # 5 live rows left in a full list: the live search
    assert_same_ranking(got, index.neighbours(target, 10))
    assert not set(listed_ids[:15]) & {i for i, _ in got}
    assert (listed.similarities(target, listed_ids[:15]) == 0).all()
    assert listed.neighbours(listed_ids[0], 5) == []


def test_compaction_renumbers_the_lists() -> None:
    rng = np.random.default_rng(5)
    index, listed = listed_corpus(rng, 500, LexicalListsConfig(depth=30))
    index.remove([f"d{i}" for i in range(0, 500, 3)])
    listed.after_write([])
    before = {i: listed.neighbours(i, 10) for i in list(index.rows)[::9]}
    index.compact()
    assert listed.lists is not None and len(listed.lists.floor) == len(index.ids)
    for article_id, expected in before.items():
        assert listed.neighbours(article_id, 10) == expected


def test_search_saves_and_loads_its_lists(tmp_path: Path) -> None:
    search = LexicalSearch()
    search.upsert([*small_corpus(), article("cuba-9", "Cuba in het donker", "Havana Cuba")])
    search.remove(["cuba-9"])
    before = {i: search.neighbours(i, 5) for i in ("cuba-1", "cuba-2")}
    sims = search.similarities("cuba-1", ["cuba-2", "cuba-3"])
    search.save(tmp_path)
    assert (tmp_path / LISTS_FILE).is_file()
    loaded = LexicalSearch.load(tmp_path)
    assert loaded.listed.lists is not None
    for article_id, expected in before.items():
        assert loaded.neighbours(article_id, 5) == expected
    np.testing.assert_allclose(loaded.similarities("cuba-1", ["cuba-2", "cuba-3"]), sims)
    live = LexicalSearch.load(tmp_path, lists=LexicalListsConfig(depth=0))
    assert live.listed.lists is None  # lists off: the live search per request
    assert [i for i, _ in live.neighbours("cuba-1", 5)] == [i for i, _ in before["cuba-1"]]


def test_a_batch_of_publishes_enters_every_new_article() -> None:
    rng = np.random.default_rng(13)
    index, listed = listed_corpus(rng, 400, LexicalListsConfig(depth=30))
    batch = [random_doc(rng, f"new{n}") for n in range(40)]  # below a bulk: entered one by one
    index.upsert_many(batch)
    listed.after_write([doc[0] for doc in batch])
    assert listed.lists is not None and listed.lists.known[: len(index.ids)].all()
    assert overlap_at(index, listed, 10) >= 0.95
    for doc in batch[::7]:
        assert_same_ranking(listed.neighbours(doc[0], 10), index.neighbours(doc[0], 10))


def test_listed_neighbours_rank_as_relative_scores_do(monkeypatch: pytest.MonkeyPatch) -> None:
    """neighbours reads a list as relative scores ranked best first (ties by row), 0s left out:
    equal to that rule written out, on lists with ties and rows the query no longer reaches."""
    rng = np.random.default_rng(3)
    index = LexicalIndex()
    index.upsert_many([(f"d{i}", ["t"], "") for i in range(50)])
    listed = ListedLexical(index, LexicalListsConfig(depth=40))
    for case in range(40):
        rows = np.sort(rng.choice(50, size=int(rng.integers(0, 40)), replace=False))
        raw = rng.choice([0.0, 0.5, 1.25, 3.0, float(rng.uniform(0.1, 4))], size=len(rows))
        top = float(raw.max()) if len(raw) else 0.0
        found = Listed(rows, raw, top, QueryRows(index, 7, ChosenSums(), ForwardScores()))
        monkeypatch.setattr(listed, "_listed", lambda row, need, found=found: found)
        k = int(rng.integers(1, 45))
        scores = relative(raw, top)
        order = (-scores).argsort(kind="stable")[:k]
        picked = zip(rows[order].tolist(), scores[order].tolist(), strict=True)
        expected = [(f"d{row}", score) for row, score in picked if score > 0]
        assert listed.neighbours("d7", k) == expected, case


def test_computing_every_list_leaves_the_forward_index_as_it_was() -> None:
    """compute_all while removed rows wait for compaction: the product's matrix must not share
    the forward index's terms (dropping the dead rows' postings shifts them in place)."""
    rng = np.random.default_rng(2)
    index = LexicalIndex()
    index.upsert_many([random_doc(rng, f"d{i}") for i in range(200)])
    index.remove([f"d{i}" for i in range(0, 200, 3)])
    terms, indptr = index.forward.terms.copy(), index.forward.indptr.copy()
    ListedLexical(index, LexicalListsConfig(depth=10)).compute_all()
    assert index.forward.terms.tolist() == terms.tolist()
    assert index.forward.indptr.tolist() == indptr.tolist()
