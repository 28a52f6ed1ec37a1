"""The Lees-ook protocol on MIND click logs (next clicks and topical precision), with the pieces
every protocol shares (Variant, World, Replay); the impression protocol is in impressions.py.
Every ranked list comes from `recommender.ranking` (Ranker.related / Ranker.popular /
Ranker.features): there is no second ranking implementation.

Time-respecting: each protocol replays the click events in time order and scores a moment with
the popularity of the events strictly before it. Only train users' events ever feed popularity.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from recommender.articles import Article
from recommender.catalog import Card, Catalog
from recommender.config import PopularityConfig, RankingParams
from recommender.embedding import Embedder, EmbeddingCache, embed_articles
from recommender.evaluation import metrics
from recommender.evaluation.data import Pair
from recommender.events import Event
from recommender.index import VectorIndex
from recommender.lexical import LexicalSearch
from recommender.logs import Progress
from recommender.popularity import Popularity
from recommender.ranking import Ranker, Weights

log = logging.getLogger(__name__)

LIST_K = 10  # lists are ranked to 10 for Recall@10, nDCG@10 and MRR (so MRR is MRR@10)
SHOWN_K = 4  # a Lees-ook block shows 4: coverage, diversity, novelty and age use the top 4


@dataclass(frozen=True)
class Variant:
    """One ranking to compare. kind: "random", "popular" (Ranker.popular) or "blend"
    (Ranker.related with these weights)."""

    name: str
    kind: str
    weights: dict[str, float] = field(default_factory=dict)
    lexical: bool = False
    use_mmr: bool = True
    family: str = "blend"
    # the blend for query articles without entity tags (see ranking.Weights)
    without_entities: dict[str, float] | None = None


@dataclass
class World:
    """The ranking's own pieces built from the MIND articles: catalogue, vector index and the
    served lexical index (no tags feed its names: tags are ground truth here)."""

    catalog: Catalog
    index: VectorIndex
    lexical: LexicalSearch
    params: RankingParams

    def ranker(self, popularity: Popularity, variant: Variant) -> Ranker:
        return Ranker(
            self.index,
            self.catalog,
            popularity,
            Weights(
                dict(variant.weights),
                source=variant.name,
                without_entities=(
                    None if variant.without_entities is None else dict(variant.without_entities)
                ),
            ),
            self.params,
            lexical=self.lexical if variant.lexical else None,
        )


def build_world(
    articles: Sequence[Article],
    cache: EmbeddingCache,
    embedder: Embedder,
    params: RankingParams,
    max_words: int,
    progress: Progress | None = None,
) -> World:
    """Embed (through the cache) and index every article; the lexical index over the same."""
    embedded = embed_articles(cache, embedder, articles, max_words, progress)
    index = VectorIndex(embedder.dim, embedder.name, "flat")
    index.upsert(embedded.ids, embedded.vectors, embedded.hashes)
    catalog = Catalog()
    for article in articles:
        catalog.put(Card.of(article))
    lexical = LexicalSearch(use_tags=False)
    lexical.upsert(articles)
    return World(catalog, index, lexical, params)


class Counter(Protocol):
    """What a replay feeds: popularity counters, co-reads."""

    def record(self, event: Event) -> bool: ...


class Replay:
    """Feeds time-ordered events into counters up to (not including) a moment."""

    def __init__(self, events: Sequence[Event], counters: Sequence[Counter]) -> None:
        self.events = sorted(events, key=lambda e: e.ts)
        self.counters = counters
        self.cursor = 0

    def advance(self, until: float) -> None:
        while self.cursor < len(self.events) and self.events[self.cursor].ts < until:
            for popularity in self.counters:
                popularity.record(self.events[self.cursor])
            self.cursor += 1


def click_counts(events: Sequence[Event]) -> dict[str, float]:
    counts: dict[str, float] = defaultdict(float)
    for event in events:
        counts[event.article_id] += 1.0
    return dict(counts)


class Topics:
    """Ground truth for the topical protocol: who shares a Wikidata entity or a subcategory."""

    def __init__(self, catalog: Catalog, ids: Sequence[str]) -> None:
        self.by_entity: dict[str, set[str]] = defaultdict(set)
        self.by_sub: dict[str, set[str]] = defaultdict(set)
        self.cards = {i: c for i in ids if (c := catalog.get(i)) is not None}
        for card in self.cards.values():
            for entity in card.entities:
                self.by_entity[entity].add(card.id)
            if card.tags:
                self.by_sub[card.tags[0]].add(card.id)

    def entity_mates(self, article_id: str) -> set[str] | None:
        card = self.cards.get(article_id)
        if card is None or not card.entities:
            return None  # precision is undefined for an article without entities
        return set().union(*(self.by_entity[e] for e in card.entities)) - {article_id}

    def sub_mates(self, article_id: str) -> set[str] | None:
        card = self.cards.get(article_id)
        if card is None or not card.tags:
            return None
        return self.by_sub[card.tags[0]] - {article_id}


def ranked_ids(
    variant: Variant,
    ranker: Ranker,
    query: str,
    now: float,
    k: int,
    rng: np.random.Generator,
    pool: Sequence[str],
) -> list[str]:
    if variant.kind == "random":
        picks = rng.choice(len(pool), size=min(k + 1, len(pool)), replace=False)
        return [pool[i] for i in picks if pool[i] != query][:k]
    if variant.kind == "popular":
        return [item.card.id for item in ranker.popular(k, exclude={query}, now=now).items]
    ranked = ranker.related(query, k, use_mmr=variant.use_mmr, now=now)
    return [item.card.id for item in ranked.items]


def evaluate_lees_ook(
    world: World,
    pairs: Sequence[Pair],
    events: Sequence[Event],
    popularity_config: PopularityConfig,
    variants: Sequence[Variant],
    seed: int,
    first_seen: dict[str, float],
    log_end: float,
    progress: Progress | None = None,
) -> dict[str, dict[str, float]]:
    """Next-click and topical protocols plus beyond-accuracy metrics, one list per pair."""
    popularity = Popularity(popularity_config)
    replay = Replay(events, [popularity])
    rankers = {v.name: world.ranker(popularity, v) for v in variants}
    pool = sorted(world.catalog.published_ids())
    topics = Topics(world.catalog, pool)
    counts = click_counts(events) or {"": 1.0}
    rng = np.random.default_rng(seed)
    acc: dict[str, dict[str, list[float]]] = {v.name: defaultdict(list) for v in variants}
    lists: dict[str, list[list[str]]] = {v.name: [] for v in variants}
    for pair in sorted(pairs, key=lambda p: (p.ts, p.user_id, p.query, p.target)):
        replay.advance(pair.ts)
        entity_mates = topics.entity_mates(pair.query)
        sub_mates = topics.sub_mates(pair.query)
        for variant in variants:
            ids = ranked_ids(variant, rankers[variant.name], pair.query, pair.ts, LIST_K, rng, pool)
            m = acc[variant.name]
            target = {pair.target}
            m["recall@4"].append(metrics.recall_at_k(ids, target, 4))
            m["recall@10"].append(metrics.recall_at_k(ids, target, 10))
            m["ndcg@10"].append(metrics.ndcg_at_k(ids, target, 10))
            m["mrr@10"].append(metrics.reciprocal_rank(ids[:10], target))
            if entity_mates is not None:
                m["entity_p@4"].append(metrics.precision_at_k(ids, entity_mates, 4))
                m["entity_p@5"].append(metrics.precision_at_k(ids, entity_mates, 5))
            if sub_mates is not None:
                m["subcat_p@4"].append(metrics.precision_at_k(ids, sub_mates, 4))
                m["subcat_p@5"].append(metrics.precision_at_k(ids, sub_mates, 5))
            shown = ids[:SHOWN_K]
            lists[variant.name].append(shown)
            m["diversity"].append(metrics.intra_list_diversity(world.index.vectors(shown)))
            if shown:
                m["novelty"].append(metrics.novelty(shown, counts))
            for article_id in shown:
                seen = first_seen.get(article_id)
                m["older_than_log"].append(float(seen is None))
                if seen is not None:
                    m["age_hours"].append((log_end - seen) / 3600.0)
        if progress:
            progress(1)
    out: dict[str, dict[str, float]] = {}
    for variant in variants:
        values = {name: metrics.mean_of(series) for name, series in acc[variant.name].items()}
        values["coverage"] = metrics.catalogue_coverage(lists[variant.name], max(1, len(pool)))
        values["pairs"] = float(len(pairs))
        out[variant.name] = values
    return out
