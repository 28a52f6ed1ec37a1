"""The Ranker on its own, over a Catalog, a VectorIndex and the FakeEmbedder: no service, no
store."""

from __future__ import annotations

import time

import pytest

from recommender.catalog import Card, Catalog
from recommender.config import PopularityConfig, RankingParams
from recommender.embedding import FakeEmbedder
from recommender.events import Event
from recommender.index import VectorIndex
from recommender.popularity import Popularity
from recommender.ranking import Ranker, Weights
from tests.factories import small_corpus

CUBA = {"cuba-2", "cuba-3", "cuba-4", "cuba-5"}


@pytest.fixture
def ranker() -> Ranker:
    articles = small_corpus()
    embedder = FakeEmbedder()
    index = VectorIndex(embedder.dim, embedder.name)
    index.upsert(
        [a.id for a in articles],
        embedder.embed([f"{a.title}\n{a.text}" for a in articles]),
        [a.id for a in articles],
    )
    catalog = Catalog()
    for article in articles:
        catalog.put(Card.of(article))
    weights = Weights({"similarity": 1.0, "popularity": 0.1})
    return Ranker(index, catalog, Popularity(PopularityConfig()), weights, RankingParams())


def ids(ranked: object) -> list[str]:
    return [item.card.id for item in ranked.items]  # type: ignore[attr-defined]


def test_related_lists_the_same_story_without_its_copy(ranker: Ranker) -> None:
    assert set(ids(ranker.related("cuba-1", 4))) == CUBA


def test_filters_and_exclusions_hold(ranker: Ranker) -> None:
    listed = ids(ranker.related("cuba-1", 4, section="Economie", exclude={"cuba-3"}))
    assert listed[0] == "cuba-2" and "cuba-3" not in listed and "cuba-1" not in listed


def test_unknown_article_falls_back_to_popular(ranker: Ranker) -> None:
    now = time.time()
    ranker.popularity.record_many([Event(now, "click", "storm-1", f"s{i}") for i in range(3)])
    ranked = ranker.related("no-such-id", 2, now=now)
    assert ranked.fallback and ids(ranked)[0] == "storm-1"


def test_score_candidates_is_the_score_related_serves(ranker: Ranker) -> None:
    now = time.time()
    item = ranker.related("cuba-1", 1, now=now).items[0]
    found = ranker.candidates("cuba-1", now=now)
    assert found is not None
    by_id = dict(zip((c.id for c in found.cards), found.scores, strict=True))
    assert by_id[item.card.id] == pytest.approx(item.score)
    rescored = ranker.score_candidates("cuba-1", found.cards, now)
    assert rescored.scores == pytest.approx(found.scores)


def test_swap_index_serves_the_new_index(ranker: Ranker) -> None:
    empty = VectorIndex(ranker.index.dim, ranker.index.model_name)
    ranker.swap_index(empty)
    assert ranker.index is empty and ranker.related("cuba-1", 2).fallback
