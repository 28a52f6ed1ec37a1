"""The vectorised Ranker against the per-candidate reference (tests/ranking_reference.py) on
random corpora: the same items in the same order with the same scores, for every filter, with
and without MMR, tags, entities and the lexical signal."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.articles import Article
from recommender.catalog import Card, Catalog
from recommender.config import PopularityConfig, RankingParams
from recommender.coreads import CoReads
from recommender.events import Event
from recommender.index import VectorIndex
from recommender.lexical import LexicalSearch
from recommender.popularity import Popularity
from recommender.ranking import FEATURES, Ranker, Weights
from tests.ranking_reference import reference_features, reference_related, reference_scores

NOW = 1_760_000_000.0
DIM = 16
SECTIONS = ("Sport", "sport", "Economie", "Buitenland", None)
WORDS = [f"w{i}" for i in range(60)]
NAMES = [f"n{i}" for i in range(12)]


def random_ranker(seed: int, lexical: bool) -> Ranker:
    rng = np.random.default_rng(seed)
    count = 300
    # clustered vectors: near neighbours, near duplicates (cosine >= 0.92) and far items
    centres = rng.standard_normal((12, DIM))
    vectors = centres[rng.integers(0, 12, count)] + rng.normal(
        0, rng.choice([0.05, 0.6]), (count, DIM)
    )
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    ids = [f"a{i}" for i in range(count)]
    index = VectorIndex(DIM, "random")
    index.upsert(ids, vectors, ids)
    index.remove(ids[-10:])  # tombstones, and cards without a vector
    catalog = Catalog()
    texts = []
    for article_id in ids:
        tags = (
            tuple(rng.choice(NAMES, rng.integers(0, 3), replace=False))
            if rng.random() < 0.5
            else ()
        )
        catalog.put(
            Card(
                id=article_id,
                title=article_id,
                url=None,
                section=SECTIONS[int(rng.integers(0, len(SECTIONS)))],
                image=None,
                published_ts=None
                if rng.random() < 0.1
                else NOW - float(rng.uniform(0, 40 * 86_400)),
                published=bool(rng.random() > 0.08),
                tags=tags,
                entities=tuple(rng.choice(NAMES, rng.integers(0, 3), replace=False)),
            )
        )
        texts.append(" ".join(rng.choice(WORDS, 8)))
    popularity = Popularity(PopularityConfig())
    coreads = CoReads()
    for j in range(600):
        target = ids[int(rng.zipf(1.3)) % count]
        event = Event(NOW - float(rng.uniform(0, 86_400)), "click", target, f"s{j % 150}")
        popularity.record(event)
        coreads.record(event)
    weights = Weights(
        {
            name: float(w)
            for name, w in zip(FEATURES, rng.uniform(0.05, 1.0, len(FEATURES)), strict=True)
        },
        without_entities={"similarity": 1.0, "popularity": 0.3, "freshness": 0.2},
    )
    params = RankingParams(candidates=40, popular_candidates=15)
    if not lexical:
        return Ranker(index, catalog, popularity, weights, params)
    search = LexicalSearch(use_tags=False)
    search.upsert(
        [
            Article(id=i, title=f"{NAMES[n % len(NAMES)].upper()} {t}", text=t, language="en")
            for n, (i, t) in enumerate(zip(ids, texts, strict=True))
        ]
    )
    return Ranker(index, catalog, popularity, weights, params, search, coreads)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("lexical", [False, True])
def test_lists_and_scores_match_the_reference(seed: int, lexical: bool) -> None:
    ranker = random_ranker(seed, lexical)
    rng = np.random.default_rng(100 + seed)
    compared = 0
    for _ in range(60):
        query = f"a{int(rng.integers(0, 305))}"  # a few unknown ids too
        options = {
            "section": [None, "sport", "Economie", "nope"][int(rng.integers(0, 4))],
            "max_age_days": [None, 5.0, 20.0][int(rng.integers(0, 3))],
            "exclude": {f"a{int(i)}" for i in rng.integers(0, 300, int(rng.integers(0, 6)))},
            "use_mmr": bool(rng.random() < 0.7),
        }
        k = int(rng.integers(1, 9))
        expected = reference_related(ranker, query, k, now=NOW, **options)  # type: ignore[arg-type]
        got = ranker.related(query, k, now=NOW, **options)  # type: ignore[arg-type]
        if expected is None:
            assert got.fallback
            continue
        listed = [i for i in got.items if "filled_from" not in i.reasons]
        assert [i.card.id for i in listed] == [i for i, _ in expected]
        assert [i.score for i in listed] == pytest.approx([s for _, s in expected], abs=1e-9)
        compared += len(listed)
    assert compared > 100  # the comparison covered real lists, not only fallbacks


def test_score_candidates_and_features_match_the_reference() -> None:
    ranker = random_ranker(7, lexical=True)
    rng = np.random.default_rng(8)
    for _ in range(20):
        query = f"a{int(rng.integers(0, 290))}"
        cards = [ranker.catalog.get(f"a{int(i)}") for i in rng.integers(0, 290, 30)]
        present = [c for c in cards if c is not None]
        scored = ranker.score_candidates(query, present, NOW)
        vector = ranker.index.vector(query)
        assert vector is not None
        sims = ranker.index.vectors([c.id for c in present]) @ vector
        assert scored.scores == pytest.approx(
            reference_scores(ranker, query, present, sims, NOW), abs=1e-9
        )
        expected = reference_features(ranker, ranker.catalog.get(query), present, sims, NOW)
        for got_row, want_row in zip(scored.features, expected, strict=True):
            assert got_row == pytest.approx(want_row, abs=1e-12)
        assert ranker.features(ranker.catalog.get(query), present, sims, NOW) == scored.features
        assert [c.id for c in scored.cards] == [c.id for c in present]


def test_features_read_by_slot_equal_those_read_by_id_after_writes() -> None:
    """Popularity and co-reads are read by catalogue slot when ranking (kept slot maps, a
    scratch array); the card path reads them by id. Both agree after every kind of write."""
    ranker = random_ranker(5, lexical=True)
    assert isinstance(ranker.coreads, CoReads) and isinstance(ranker.popularity, Popularity)
    rng = np.random.default_rng(9)

    def check() -> None:
        partnered = 0
        for query in [f"a{int(i)}" for i in rng.integers(0, 290, 25)]:
            found = ranker.candidates(query, now=NOW)
            if found is None or not found.ids:
                continue
            partnered += int(np.count_nonzero(found.matrix[:, FEATURES.index("coreads")]))
            sims = ranker.index.vectors(found.ids) @ ranker.index.vector(query)
            by_id = ranker._scoring.card_matrix(
                ranker.catalog.get(query), found.cards, np.asarray(sims, np.float64), NOW
            )
            assert np.array_equal(found.matrix[:, 1:], by_id[:, 1:])  # all but similarity
        assert partnered > 0

    check()
    for n in range(300):  # first clicks and reads of many articles, new co-read partners
        event = Event(NOW - 50.0 + n / 10, "click", f"a{n % 290}", f"t{n % 40}")
        ranker.popularity.record(event)
        ranker.coreads.record(event)
    check()
    ranker.coreads.forget(["a1", "a2", "a3"])
    names, logs = ranker.popularity.short.state()
    ranker.popularity.short.restore(names[::-1], logs[::-1])  # every counter slot renumbered
    check()
