"""The kept shortcuts of the Lees-ook hot path against what they replace: faiss's storage read as
a numpy view, the co-read partners kept between the two asks of one request, the popular head's
rows and vectors kept between requests, the joined candidates found by row, and MMR with the
loop-invariant work hoisted. Each is dropped when what it was taken from changes."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import numpy as np
import pytest

from recommender.config import CoReadConfig, PopularityConfig
from recommender.coreads import CoReads
from recommender.events import Event
from recommender.index import VectorIndex
from recommender.popularity import Popularity, PopularityCounters
from recommender.ranking.diversity import mmr_order
from recommender.ranking.features import FEATURES
from recommender.ranking.joined import JoinedRows, PopularRows, popular_ids
from recommender.ranking.weights import KEPT_BLENDS, Gate, Weights

DIM = 16


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    normalised: np.ndarray = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return normalised


def filled(kind: str, count: int, seed: int = 0) -> tuple[VectorIndex, list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    ids = [f"a{i}" for i in range(count)]
    vectors = unit(rng, count)
    index = VectorIndex(DIM, "m", kind, hnsw_m=8, ef_search=32)
    index.upsert(ids, vectors, ids)
    return index, ids, vectors


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_vectors_read_through_the_view_follow_growth_and_replacement(kind: str) -> None:
    index, ids, vectors = filled(kind, 40)
    rows = index.rows(ids)
    assert np.array_equal(index.vectors_at(rows), vectors)  # the view is taken here
    # many more rows: faiss reallocates its storage, so a view kept from before would dangle
    more = unit(np.random.default_rng(1), 3000)
    more_ids = [f"b{i}" for i in range(len(more))]
    index.upsert(more_ids, more, more_ids)
    assert np.array_equal(index.vectors_at(index.rows(more_ids)), more)
    assert np.array_equal(index.vectors_at(rows), vectors)
    # a replaced article reads its new vector, by row and by id
    index.upsert(["a3"], more[:1], ["new"])
    vector = index.vector("a3")
    assert vector is not None and np.array_equal(vector, more[0])
    assert np.array_equal(index.vectors(["a3", "nope", "a4"]), [more[0], np.zeros(DIM), vectors[4]])
    # a copy: the caller may not write into faiss's storage through it
    vector[:] = 0
    assert np.array_equal(index.vectors(["a3"])[0], more[0])


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_vectors_of_a_loaded_index(kind: str, tmp_path: Path) -> None:
    index, ids, vectors = filled(kind, 30)
    index.save(tmp_path / "v")
    loaded = VectorIndex.load(tmp_path / "v", "m", DIM)
    assert np.array_equal(loaded.vectors_at(loaded.rows(ids)), vectors)
    before = loaded.changes
    loaded.upsert(["z"], vectors[:1], ["z"])
    assert loaded.changes > before
    assert np.array_equal(loaded.vectors(["z"])[0], vectors[0])


def reads(seed: int, count: int = 400) -> list[Event]:
    rng = np.random.default_rng(seed)
    return [
        Event(1_000.0 + n, "view", f"a{int(rng.integers(0, 30))}", f"s{int(rng.integers(0, 25))}")
        for n in range(count)
    ]


def test_coread_partners_are_kept_until_the_table_changes() -> None:
    table = CoReads(CoReadConfig(half_life_hours=5.0))
    events = reads(0)
    table.record_many(events[:300])
    first = table.neighbours("a1", 5, 2_000.0)
    assert table.partners("a1", 2_000.0) is table.partners("a1", 2_000.0)  # kept
    candidates = [f"a{i}" for i in range(30)]
    fast = table.partner_similarities("a1", candidates, 2_000.0)
    assert np.array_equal(fast, table.similarities("a1", candidates, 2_000.0))
    table.record_many(events[300:])  # the counts move: the kept partners are stale
    after = table.partner_similarities("a1", candidates, 2_000.0)
    assert np.array_equal(after, table.similarities("a1", candidates, 2_000.0))
    assert not np.array_equal(after, fast) and table.neighbours("a1", 5, 2_000.0) != first
    # the clock is part of what was asked: another `now`, another shrinkage
    assert table.partners("a1", 9_000.0) != table.partners("a1", 2_000.0)
    table.forget(["a2"])
    assert "a2" not in table.partners("a1", 2_000.0)


def test_coread_neighbours_keep_the_strongest_first_ties_in_partner_order() -> None:
    table = CoReads(CoReadConfig(half_life_hours=1e9, shrinkage=1.0))
    for n, article in enumerate(["q", "x", "y", "z"]):
        table.record(Event(float(n), "view", article, "s1"))
    table.record(Event(9.0, "view", "y", "s2"))
    table.record(Event(10.0, "view", "q", "s2"))
    sims = table.partners("q")
    expected = sorted(sims.items(), key=lambda item: item[1], reverse=True)  # stable
    assert table.neighbours("q", 3) == expected[:3]
    assert math.isclose(sims["x"], 1.0 / (math.sqrt(2.0 * 1.0) + 1.0))


def test_popular_rows_are_kept_until_the_head_or_the_index_changes() -> None:
    index, ids, vectors = filled("flat", 50)
    kept = PopularRows()
    head = ["a7", "nope", "a3", "a9"]
    rows, head_vectors = kept.of(index, head)
    assert rows == index.rows(["a7", "a3", "a9"]).tolist()
    assert np.array_equal(head_vectors, vectors[[7, 3, 9]])
    assert kept.of(index, list(head))[0] is rows  # an equal head: nothing looked up again
    assert kept.of(index, ["a3", "a7"])[0] == index.rows(["a3", "a7"]).tolist()
    # a popular article replaced: its row and vector move, so the kept ones are stale
    index.upsert(["a3"], vectors[:1], ["new"])
    rows, head_vectors = kept.of(index, ["a3", "a7"])
    assert rows == index.rows(["a3", "a7"]).tolist()
    assert np.array_equal(head_vectors, vectors[[0, 7]])
    index.remove(["a7"])
    assert kept.of(index, ["a3", "a7"])[0] == index.rows(["a3"]).tolist()
    other, _, _ = filled("flat", 50, seed=2)  # a swapped index
    assert np.array_equal(kept.of(other, ["a3"])[1], other.vectors(["a3"]))


@pytest.mark.parametrize("seed", range(10))
def test_joined_rows_are_the_ids_in_order_each_once_outside_the_taken(seed: int) -> None:
    index, ids, vectors = filled("flat", 60, seed)
    index.remove(ids[-5:])
    rng = np.random.default_rng(seed)
    joined = JoinedRows()  # one for every call: what a call marks must be gone by the next
    for call in range(12):
        if call == 6:  # the index grows past the marks taken so far, and an article moves
            more = [f"b{i}" for i in range(2000)]
            index.upsert(more, unit(rng, len(more)), more)
            index.upsert(["a1"], unit(rng, 1), ["moved"])
            ids = ids + more
        pool = ids + ["unknown1", "unknown2"]
        named = [pool[int(i)] for i in rng.integers(0, len(pool), int(rng.integers(0, 40)))]
        named += named[: int(rng.integers(0, 5))]  # a co-read neighbour also a lexical one
        popular = [pool[int(i)] for i in rng.permutation(len(pool))[: int(rng.integers(0, 20))]]
        if call % 3 == 0:  # the popular head among the named: each popular row taken there
            popular = named[:3] + popular
        taken = index.rows([pool[int(i)] for i in rng.permutation(len(pool))[:15]])
        taken = taken[taken >= 0]
        rows, found = joined.of(index, named, list(dict.fromkeys(popular)), taken)
        # what the ranker did before: all ids in one dict, looked up, then the taken left out
        expected = index.rows(list(dict.fromkeys(named + popular)))
        expected = expected[expected >= 0]
        expected = expected[~np.isin(expected, taken)]
        assert rows == expected.tolist()
        assert np.array_equal(found, index.vectors_at(expected))


def reference_mmr(
    vectors: np.ndarray, scores: np.ndarray, k: int, lam: float, duplicate: float
) -> list[int]:
    """mmr_order as it was written before its invariants were hoisted."""
    closeness = np.zeros(len(scores), dtype=np.float64)
    open_ = np.ones(len(scores), dtype=bool)
    chosen: list[int] = []
    while len(chosen) < k:
        value = lam * scores - (1.0 - lam) * closeness
        value[~open_ | (closeness >= duplicate)] = -np.inf
        best = int(np.argmax(value))
        if value[best] == -np.inf:
            break
        to_best = vectors @ vectors[best]
        closeness = to_best if not chosen else np.maximum(closeness, to_best)
        chosen.append(best)
        open_[best] = False
    return chosen


@pytest.mark.parametrize("seed", range(30))
def test_mmr_picks_as_before(seed: int) -> None:
    rng = np.random.default_rng(seed)
    count = int(rng.integers(1, 50))
    vectors = unit(rng, count)
    if count > 3:
        vectors[2] = vectors[1]  # a duplicate
    scores = np.sort(rng.random(count))[::-1].copy()
    if count > 5:
        scores[4] = scores[3]  # a tie
    for k in (1, 4, 10):
        for lam in (0.5, 0.8, 1.0):
            for duplicate in (0.92, 0.2, -1.0):
                assert mmr_order(vectors, scores, k, lam, duplicate) == reference_mmr(
                    vectors, scores, k, lam, duplicate
                )


def test_popular_ids_are_ranked_s_head_kept_until_a_click_moves_it() -> None:
    popularity = Popularity(PopularityConfig())
    for n in range(120):
        for _ in range(n % 17 + 1):
            popularity.record(Event(1_000.0 + n, "click", f"p{n}", None))
    expected = list(itertools.islice(popularity.ranked(2_000.0), 50))
    top = popular_ids(popularity, 50, 2_000.0)
    assert top == expected and popular_ids(popularity, 50, 2_000.0) is top  # kept
    assert popular_ids(popularity, 0, 2_000.0) == []
    # beyond the kept head: as ranked() walks on
    assert popular_ids(popularity, 100, 2_000.0) == list(
        itertools.islice(popularity.ranked(2_000.0), 100)
    )
    for _ in range(40):  # the last one climbs to the top
        popularity.record(Event(1_500.0, "click", "p0", None))
    moved = popular_ids(popularity, 50, 2_000.0)
    assert moved[0] == "p0" and moved == list(itertools.islice(popularity.ranked(2_000.0), 50))


def test_popular_ids_of_another_backend_walk_ranked() -> None:
    class Counters:
        def ranked(self, now: float, window: str = "decayed") -> Iterator[str]:
            yield from (f"c{i}" for i in range(100))

    assert popular_ids(cast(PopularityCounters, Counters()), 3, 0.0) == ["c0", "c1", "c2"]


def test_kept_blend_vectors_follow_the_weights_they_were_made_from() -> None:
    matrix = np.random.default_rng(4).random((30, len(FEATURES)))
    gate = Gate(("similarity", "lexical"), 0.5)
    weights = Weights({"similarity": 1.0, "popularity": 0.5}, gate=gate)

    def reference(values: dict[str, float]) -> np.ndarray:
        blend = np.array([values.get(name, 0.0) for name in FEATURES])
        topical = np.array([name in gate.relevance for name in FEATURES])
        relevance = matrix @ np.where(topical, blend, 0.0)
        passes = relevance >= gate.share * float(relevance.max())
        scored: np.ndarray = relevance + np.where(passes, matrix @ np.where(topical, 0.0, blend), 0)
        return scored

    values = dict(weights.values)
    assert np.array_equal(weights.scores(matrix, values)[0], reference(values))
    values["popularity"] = 2.0  # the same dict, other weights: not the kept vectors
    assert np.array_equal(weights.scores(matrix, values)[0], reference(values))
    for n in range(3 * KEPT_BLENDS):  # many blends: the kept ones stay few
        other = {"similarity": 1.0, "freshness": float(n)}
        assert np.array_equal(weights.scores(matrix, other)[0], reference(other))
    assert len(weights._vectors) <= KEPT_BLENDS
    plain = Weights({"similarity": 1.0, "popularity": 0.5})
    assert np.array_equal(
        plain.scores(matrix, plain.values)[0], matrix @ plain.vector(plain.values)
    )
