"""Precomputed neighbour lists: the same neighbours as a live exact search under random
publish, replace and unpublish sequences, across save/load and compaction; exact insertion on
publish; removed articles never come back; and the same Lees-ook lists with the lists on and
off through the service (tests/test_result_cache.py compares the cache on and off with the
lists on, the default)."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import numpy as np
import pytest

from recommender.index import VectorIndex
from recommender.neighbours import NeighbourLists
from recommender.service import RecommenderService
from tests.factories import article, make_settings

DIM = 16


def unit(rng: np.random.Generator, count: int) -> np.ndarray:
    vectors = rng.standard_normal((count, DIM)).astype(np.float32)
    normed: np.ndarray = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return normed


def put(index: VectorIndex, ids: list[str], vectors: np.ndarray) -> None:
    index.upsert(ids, vectors, [hashlib.sha256(v.tobytes()).hexdigest() for v in vectors])


def tie_groups(ids: list[str], sims: np.ndarray) -> list[list[str]]:
    """ids grouped by equal cosine (within float32 rounding), best first: the order within a
    tie is arbitrary (faiss keeps none either), and k may cut the last group anywhere."""
    groups: list[list[str]] = []
    previous = np.inf
    for article_id, sim in zip(ids, sims.tolist(), strict=True):
        if previous - sim > 1e-5 or not groups:
            groups.append([])
        groups[-1].append(article_id)
        previous = sim
    return [sorted(group) for group in groups[:-1]]


def assert_same_as_live(index: VectorIndex, k: int) -> int:
    """Every article's listed neighbours equal a live search; returns how many lists were read
    from the precomputed lists (not fallen back)."""
    assert index.neighbours is not None
    served = 0
    for article_id in index.ids():
        vector = index.vector(article_id)
        assert vector is not None
        live_ids, live_sims, _ = index.search_rows(vector, k)
        ids, sims, rows = index.search_article(article_id, k)
        assert sims == pytest.approx(live_sims, abs=1e-5)
        assert tie_groups(ids, sims) == tie_groups(live_ids, live_sims)
        assert [index._row_ids[r] for r in rows.tolist()] == ids
        row = index._rows[article_id]
        served += index.neighbours.live(row, k, index._live) is not None
    return served


def listed_ids(index: VectorIndex, article_id: str, k: int) -> list[str | None] | None:
    """The ids of an article's first k live list entries; None: the list cannot vouch."""
    assert index.neighbours is not None
    listed = index.neighbours.live(index._rows[article_id], k, index._live)
    return None if listed is None else index.ids_at(listed[1])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_lists_equal_a_live_search_under_random_writes(tmp_path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    pick = random.Random(seed)
    index = VectorIndex(DIM, "test", "flat")
    put(index, [f"a{i}" for i in range(60)], unit(rng, 60))
    index.keep_neighbours(12)
    k, served, next_id = 6, 0, 60
    for step in range(40):
        action = pick.random()
        if action < 0.4:  # publish a few new articles
            count = pick.randint(1, 3)
            put(index, [f"a{next_id + i}" for i in range(count)], unit(rng, count))
            next_id += count
        elif action < 0.7:  # replace one (a new text: a new vector)
            put(index, [pick.choice(index.ids())], unit(rng, 1))
        else:  # unpublish a few
            gone = pick.sample(index.ids(), 3)
            index.remove(gone)
            for article_id in index.ids():
                assert not set(gone) & set(index.search_article(article_id, k)[0])
        if step % 10 == 9:  # saved (compacted) and loaded back
            index.save(tmp_path / f"v{step}")
            index = VectorIndex.load(tmp_path / f"v{step}", "test", DIM, neighbours=12)
        served += assert_same_as_live(index, k)
    # the lists, not the fallback, answered nearly everything
    assert served > 0.8 * 40 * len(index)


def test_a_published_article_enters_the_lists_it_beats() -> None:
    rng = np.random.default_rng(4)
    vectors = unit(rng, 50)
    index = VectorIndex(DIM, "test", "flat")
    put(index, [f"a{i}" for i in range(50)], vectors)
    index.keep_neighbours(5)
    twin = vectors[7] + 0.01 * unit(rng, 1)[0]
    put(index, ["new"], (twin / np.linalg.norm(twin))[None, :])
    assert index.neighbours is not None
    listed = listed_ids(index, "a7", 5)
    assert listed is not None  # read from the list, with the new article second (after a7)
    assert listed[:2] == ["a7", "new"]
    own = listed_ids(index, "new", 5)
    assert own is not None and own[:2] == ["new", "a7"]


def test_a_list_short_of_live_rows_falls_back_to_a_live_search() -> None:
    rng = np.random.default_rng(5)
    index = VectorIndex(DIM, "test", "flat")
    put(index, [f"a{i}" for i in range(30)], unit(rng, 30))
    index.keep_neighbours(4)
    assert index.neighbours is not None
    listed = listed_ids(index, "a0", 4)
    assert listed is not None
    index.remove([i for i in listed[1:3] if i is not None])
    assert listed_ids(index, "a0", 4) is None
    vector = index.vector("a0")
    assert vector is not None
    assert index.search_article("a0", 4)[0] == index.search_rows(vector, 4)[0]


def test_lists_are_saved_and_loaded_with_the_index(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    index = VectorIndex(DIM, "test", "flat")
    put(index, [f"a{i}" for i in range(40)], unit(rng, 40))
    index.keep_neighbours(8)
    index.save(tmp_path)
    loaded = NeighbourLists.load(tmp_path, 40, 8)
    assert loaded is not None and index.neighbours is not None
    assert np.array_equal(loaded.rows, index.neighbours.rows[:40])
    assert NeighbourLists.load(tmp_path, 40, 9) is None  # another depth: recomputed
    (tmp_path / "neighbours.npz").write_bytes(b"garbage")
    again = VectorIndex.load(tmp_path, "test", DIM, neighbours=8)
    assert again.neighbours is not None and assert_same_as_live(again, 6) == 40


WORDS = [f"onderwerp{i}" for i in range(30)]


def story(pick: random.Random, article_id: str) -> object:
    text = " ".join(pick.choices(WORDS, k=12))
    return article(article_id, f"Bericht {article_id}", text, pick.choice(["Sport", "Economie"]))


def test_lees_ook_is_the_same_with_lists_on_and_off(tmp_path: Path) -> None:
    pick = random.Random(9)
    small = {"candidates": 8, "lexical_candidates": 3, "popular_candidates": 2}
    services = {
        name: RecommenderService(make_settings(tmp_path / name, **small, **extra))
        for name, extra in {
            "lists": {"neighbour_lists": 12, "result_cache_size": 0},
            "live": {"neighbour_lists": 0, "result_cache_size": 0},
            "lists-cached": {"neighbour_lists": 12, "result_cache_ttl_seconds": 3600},
        }.items()
    }
    corpus = [story(pick, f"s{i}") for i in range(40)]
    for svc in services.values():
        svc.start()
        svc.upsert(corpus)  # type: ignore[arg-type]
    try:
        next_id, gone = 40, set()
        for step in range(12):
            if step and pick.random() < 0.5:
                batch = [story(pick, f"s{next_id + i}") for i in range(2)]
                next_id += 2
                for svc in services.values():
                    svc.upsert(batch)  # type: ignore[arg-type]
            elif step:
                gone.add(pick.choice([a.id for a in corpus]))  # type: ignore[attr-defined]
                for article_id in gone:
                    for svc in services.values():
                        if svc.get_article(article_id).is_published:
                            svc.unpublish(article_id)
            for i in range(next_id):
                got = {name: svc.related(f"s{i}", 4).items for name, svc in services.items()}
                ids = {name: [x.card.id for x in items] for name, items in got.items()}
                assert ids["lists"] == ids["live"]
                # a list's cosine comes from the publish-time product, a search's from faiss:
                # equal up to float32 rounding
                scores = [x.score for x in got["lists"]]
                assert scores == pytest.approx([x.score for x in got["live"]], abs=1e-5)
                # the cache may keep a list up to its TTL when a new story would enter it (see
                # README, Caching), but never one that shows an unpublished article, and before
                # any write it holds exactly what is ranked
                assert not gone & set(ids["lists-cached"])
                if step == 0:
                    assert ids["lists-cached"] == ids["lists"]
    finally:
        for svc in services.values():
            svc.close()


def test_a_full_complete_list_stops_vouching_for_itself_when_a_row_misses_it() -> None:
    # the corpus is exactly as deep as the lists: every list is complete and full; a new
    # article scoring below every listed one fits in no list, and then removing a listed one
    # must not let a list answer with the new article missing
    lists = NeighbourLists(3)
    lists.set_list(0, np.array([0, 1, 2]), np.array([1.0, 0.9, 0.8], np.float32), complete=True)
    lists.insert(3, np.array([0.5, 0.0, 0.0, 1.0], np.float32), np.array([0, 1, 1, 1], bool))
    # alive per row, and False past the last one (where NO_ROW padding reads)
    assert lists.live(0, 3, np.array([1, 0, 1, 1, 0], bool)) is None  # b removed
    assert lists.live(0, 2, np.array([1, 1, 1, 1, 0], bool)) is not None


def test_a_replica_enters_articles_it_learns_of_into_its_lists(tmp_path: Path) -> None:
    # two services on one store: B learns of A's writes as the change feed makes it do
    pick = random.Random(3)
    small = {"candidates": 8, "neighbour_lists": 12}
    a = RecommenderService(make_settings(tmp_path, **small))
    b = RecommenderService(make_settings(tmp_path, **small))
    a.start()
    a.upsert([story(pick, f"s{i}") for i in range(40)])  # type: ignore[misc]
    b.start()
    try:
        a.upsert([story(pick, f"new{i}") for i in range(3)])  # type: ignore[misc]
        a.unpublish("s5")
        assert b._lifecycle.follow_store() > 0
        index = b._ranker.index
        assert "new0" in index and "s5" not in index
        assert assert_same_as_live(index, 9) == len(index)  # all read from the lists
        assert all("s5" not in index.search_article(i, 9)[0] for i in index.ids())
    finally:
        a.close()
        b.close()


class CountingLock:
    """A lock that counts how often it was taken."""

    def __init__(self) -> None:
        self.taken = 0

    def __enter__(self) -> None:
        self.taken += 1

    def __exit__(self, *exc: object) -> None:
        return None


def test_a_product_prepared_before_the_lock_gives_the_same_lists(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("recommender.neighbours.PREPARE_ROWS", 7)  # many steps over 80 rows
    rng = np.random.default_rng(8)
    base, meanwhile, new = unit(rng, 80), unit(rng, 2), unit(rng, 3)
    indexes = []
    for _ in range(2):
        index = VectorIndex(DIM, "test", "flat")
        put(index, [f"a{i}" for i in range(80)], base)
        index.keep_neighbours(6)
        indexes.append(index)
    early, plain = indexes
    lock = CountingLock()
    prepared = early.prepare_upsert(new, lock)
    assert prepared is not None and lock.taken == 1 + 12  # the size, then 80 rows in steps of 7
    for index in indexes:  # another writer got the lock first: rows added and removed
        put(index, ["x0", "x1"], meanwhile)
        index.remove(["a3", "a40"])
    ids = ["n0", "n1", "n2"]
    early.upsert(ids, new, ids, prepared)
    plain.upsert(ids, new, ids)
    assert early.neighbours is not None and plain.neighbours is not None
    assert np.array_equal(early.neighbours.rows, plain.neighbours.rows)
    assert np.allclose(early.neighbours.sims, plain.neighbours.sims, atol=1e-6)
    assert np.allclose(early.neighbours.floor, plain.neighbours.floor, atol=1e-6)
    assert_same_as_live(early, 6)
    # prepared on another index, or for other vectors: not used (the lists stay exact)
    stranger = VectorIndex(DIM, "test", "flat")
    put(stranger, [f"s{i}" for i in range(90)], unit(rng, 90))
    stranger.keep_neighbours(6)
    plain.upsert(["m0"], new[:1], ["m0"], stranger.prepare_upsert(new[:1], CountingLock()))
    plain.upsert(["m1"], new[1:2], ["m1"], plain.prepare_upsert(unit(rng, 1), CountingLock()))
    assert_same_as_live(plain, 6)
