"""The array plumbing of the Lees-ook hot path: index rows to catalogue slots, candidate ids read
only when asked for, the co-read accessor over partners only, and reasons built only when read."""

from __future__ import annotations

import random

import numpy as np
import pytest

from recommender.catalog import Card, Catalog, Columns
from recommender.config import CoReadConfig, PopularityConfig, RankingParams
from recommender.coreads import CoReads
from recommender.embedding import FakeEmbedder
from recommender.events import Event
from recommender.index import VectorIndex
from recommender.popularity import Popularity
from recommender.ranking import FEATURES, Ranker, Weights
from recommender.ranking.lists import Explanation, Item
from recommender.ranking.slots import RowSlots, slot_lookups
from tests.factories import small_corpus

DIM = 8


def card(article_id: str) -> Card:
    return Card(article_id, article_id, None, None, None, None, True)


def unit(rng: np.random.Generator, count: int) -> np.ndarray:
    vectors = rng.standard_normal((count, DIM)).astype(np.float32)
    normed: np.ndarray = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return normed


def test_row_slots_follow_publish_replace_and_late_cards() -> None:
    rng = np.random.default_rng(1)
    index = VectorIndex(DIM, "test")
    catalog = Catalog()
    ids = [f"a{i}" for i in range(40)]
    for article_id in reversed(ids):  # slots in another order than rows
        catalog.put(card(article_id))
    index.upsert(ids + ["late"], unit(rng, 41), ids + ["late"])
    slots = RowSlots(index, catalog.columns)
    rows = index.rows(ids + ["late"])
    expected = catalog.columns.slots(ids)
    assert slots.of(rows)[:-1].tolist() == expected.tolist()
    assert slots.of(rows)[-1] == -1  # no card yet: not resolved...
    catalog.put(card("late"))
    assert slots.of(rows)[-1] == catalog.columns.slot["late"]  # ...until it has one
    index.upsert(["a3"], unit(rng, 1), ["a3-v2"])  # replaced: a new row, the same slot
    new_row = index.rows(["a3"])
    assert new_row[0] != rows[3] and slots.of(new_row)[0] == catalog.columns.slot["a3"]
    # resolved once: a row keeps its slot without asking the catalogue again
    catalog.columns.slot.clear()
    assert slots.of(rows[:5]).tolist() == expected[:5].tolist()
    assert slots.of(np.zeros(0, dtype=np.int64)).tolist() == []


def test_slot_ids_read_one_by_one_or_all_are_the_gathered_ids() -> None:
    columns = Columns()
    for n in range(1500):
        columns.put(card(f"a{n}"))
    rng = np.random.default_rng(3)
    slots = rng.integers(0, 1500, 200)
    ids = columns.ids_of(slots)
    for n in range(1500, 3000):  # the columns grow (new arrays) after the ids were taken
        columns.put(card(f"a{n}"))
    columns.put(Card("a7", "a7 again", None, "sport", None, None, False))  # one card changes
    expected = [f"a{s}" for s in slots.tolist()]
    assert len(ids) == 200 and bool(ids)
    assert [ids[at] for at in range(200)] == expected and ids[-1] == expected[-1]
    assert ids[5:9] == expected[5:9] and list(ids) == expected and ids.all() is ids.all()
    assert expected[17] in ids and ids.index(expected[17]) == expected.index(expected[17])
    assert not columns.ids_of(np.zeros(0, dtype=np.int64))
    with pytest.raises(IndexError):
        ids[200]


def test_partner_similarities_equal_similarities() -> None:
    pick = random.Random(3)
    coreads = CoReads(CoReadConfig(neighbours=5, shrinkage=1.0))
    ts = 1_700_000_000.0
    for n in range(3_000):
        ts += pick.uniform(0, 60)
        coreads.record(Event(ts, "view", f"a{pick.randrange(60)}", f"s{n % 200}"))
    for article in range(60):
        candidates = pick.sample([f"a{i}" for i in range(70)], 30)  # some never read
        for now in (None, ts + 86_400):
            want = coreads.similarities(f"a{article}", candidates, now)
            got = coreads.partner_similarities(f"a{article}", candidates, now)
            assert got.tolist() == want.tolist()
    repeated = ["a1", "a2", "a1"]
    assert (
        coreads.partner_similarities("a0", repeated).tolist()
        == coreads.similarities("a0", repeated).tolist()
    )


def test_reasons_are_built_on_first_read_and_add_up() -> None:
    weights = Weights({name: 0.1 * n for n, name in enumerate(FEATURES)})
    values = np.linspace(0.1, 0.9, len(FEATURES))
    score = float(values @ weights.vector(weights.values))
    item = Item(card("a"), score, explain=Explanation(values, weights, weights.values, True, score))
    reasons = item.reasons
    assert item.reasons is reasons  # built once
    assert reasons["total"] == score
    contributions = reasons["contributions"]
    assert isinstance(contributions, dict)
    assert abs(sum(contributions.values()) - score) < 1e-5
    assert Item(card("b"), 1.0).reasons == {}
    assert Item(card("b"), 1.0, {"filled_from": "popular"}) == Item(
        card("b"), 1.0, {"filled_from": "popular"}
    )


def test_a_listed_item_keeps_its_own_features_not_the_candidates_matrix() -> None:
    # a cached list lives for its TTL: a view of one row would keep every candidate's
    # features (~200 rows) alive with it, for each of the cache's thousands of lists
    articles = small_corpus()
    embedder = FakeEmbedder()
    index = VectorIndex(embedder.dim, embedder.name)
    ids = [a.id for a in articles]
    index.upsert(ids, embedder.embed([f"{a.title}\n{a.text}" for a in articles]), ids)
    catalog = Catalog()
    for article in articles:
        catalog.put(Card.of(article))
    weights = Weights({"similarity": 1.0, "popularity": 0.1})
    ranker = Ranker(index, catalog, Popularity(PopularityConfig()), weights, RankingParams())
    ranked = ranker.related("cuba-1", 4)
    explained = [item._explain for item in ranked.items]
    assert explained and all(e is not None for e in explained)
    # what an explanation keeps alive: its own row, or the listed rows gathered at once
    kept = [e.values if e.values.base is None else e.values.base for e in explained if e]
    assert all(array.nbytes <= len(ranked.items) * array.itemsize * len(FEATURES) for array in kept)
    assert all(item.reasons["total"] == item.score for item in ranked.items)


def test_counter_slots_give_what_a_lookup_by_id_gives_after_counts_and_a_restore() -> None:
    catalog = Catalog()
    ids = [f"a{i}" for i in range(1_500)]  # past the first 1024 slots: the map grows
    for article_id in ids:
        catalog.put(card(article_id))
    popularity = Popularity(PopularityConfig())
    for n in range(0, 1_500, 3):
        popularity.record(Event(1_000.0 + n, "click", f"a{n}", None))
    slots = slot_lookups(popularity, catalog.columns).counters
    assert slots is not None
    every = catalog.columns.slots(ids)

    def check() -> None:
        picked = np.random.default_rng(len(popularity.short)).permutation(every)[:300]
        by_id = popularity.normalised(catalog.columns.ids_at(picked), 5_000.0)
        assert np.array_equal(popularity.normalised_of(slots.of(picked), 5_000.0), by_id)

    check()
    # an article never counted gets its first count: no longer missing
    popularity.record(Event(4_000.0, "click", "a1", None))
    popularity.record(Event(4_000.0, "click", "a1400", None))
    check()
    assert slots.of(catalog.columns.slots(["a1"]))[0] >= 0
    # a restore numbers the counted articles afresh (here: in reverse)
    names, logs = popularity.short.state()
    popularity.short.restore(names[::-1], logs[::-1])
    check()
    assert slot_lookups(object(), catalog.columns).counters is None  # another backend: by id
