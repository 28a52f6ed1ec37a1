"""The primary comparison: one Lees-ook list of 5 per next-click pair of TEST users, scored on
next-click nDCG@5 and entity precision@5, with only what the service could have known.

Without leaks: popularity and co-reads are counted from train users' events only (the truth
users' events never reach a feature); entity and subcategory tags are ground truth only, never
features (no tag feeds the salient names, tag and entity overlap are weighted 0). Every list
comes from the Ranker: its candidates and feature matrix once per pair, then each variant's
weight vector and the Ranker's own MMR (`Ranker.rerank`)."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from recommender.config import CoReadConfig, PopularityConfig
from recommender.coreads import CoReads
from recommender.evaluation import metrics
from recommender.evaluation.data import Pair
from recommender.evaluation.protocols import Replay, Topics, World
from recommender.events import Event
from recommender.logs import Progress
from recommender.popularity import Popularity
from recommender.ranking import FEATURES, Ranker, Weights
from recommender.ranking.scoring import Scored

log = logging.getLogger(__name__)

K = 5  # one list of 5, as a Lees-ook block shows
GRID_SIGNALS = ("similarity", "lexical", "popularity", "coreads")
GRID_LEVELS = (0.0, 0.25, 0.5, 1.0)
CONTENT = {
    "embedding": {"similarity": 1.0},
    "lexical": {"lexical": 1.0},
    "names": {"name_overlap": 1.0},
    "embedding+lexical": {"similarity": 1.0, "lexical": 1.0},
    "embedding+lexical+names": {"similarity": 1.0, "lexical": 1.0, "name_overlap": 1.0},
}


@dataclass
class Query:
    """One next-click pair with its candidates as the Ranker saw them at that moment."""

    pair: Pair
    found: Scored
    mates: set[str] | None  # articles sharing a Wikidata entity with the query: ground truth
    popular: list[str]  # Ranker.popular at that moment (the popularity-list baseline)


@dataclass
class Signals:
    """What the service counts from events, fed only by the events it is given."""

    popularity: Popularity
    coreads: CoReads

    @classmethod
    def fresh(cls, popularity: PopularityConfig, coreads: CoReadConfig) -> Signals:
        return cls(Popularity(popularity), CoReads(coreads))


def ranker_for(world: World, signals: Signals) -> Ranker:
    """A ranker over the world's index and lexical index (built without tags) and signals."""
    return Ranker(
        world.index,
        world.catalog,
        signals.popularity,
        Weights({}, source="evaluation"),
        world.params,
        lexical=world.lexical,
        coreads=signals.coreads,
    )


def collect(
    ranker: Ranker,
    signals: Signals,
    pairs: Sequence[Pair],
    events: Sequence[Event],
    topics: Topics,
    progress: Progress | None = None,
) -> list[Query]:
    """Candidates of every pair, the signals replayed from events strictly before its moment."""
    replay = Replay(events, [signals.popularity, signals.coreads])
    out: list[Query] = []
    for pair in sorted(pairs, key=lambda p: (p.ts, p.user_id, p.query, p.target)):
        replay.advance(pair.ts)
        found = ranker.candidates(pair.query, now=pair.ts)
        if progress:
            progress(1)
        if found is None:
            continue
        popular = ranker.popular(K, exclude={pair.query}, now=pair.ts)
        out.append(
            Query(pair, found, topics.entity_mates(pair.query), [i.card.id for i in popular.items])
        )
    return out


def vector(weights: dict[str, float]) -> np.ndarray:
    return np.array([weights.get(name, 0.0) for name in FEATURES])


def lists_of(
    ranker: Ranker, queries: Sequence[Query], weights: dict[str, float] | Weights, mmr: bool
) -> list[list[str]]:
    """Each query's list under a fixed blend (a dict) or a gated blend (Weights), scored as the
    service scores (Weights.scores) and diversified as it does."""
    if isinstance(weights, dict):
        w = vector(weights)
        return [ranker.rerank(q.found, q.found.matrix @ w, K, mmr) for q in queries]
    return [
        ranker.rerank(q.found, weights.scores(q.found.matrix, weights.values)[0], K, mmr)
        for q in queries
    ]


def per_query(
    queries: Sequence[Query], lists: Sequence[Sequence[str]]
) -> tuple[list[float], list[float], list[float]]:
    """Each query's next-click nDCG@5 and recall@5, and the entity P@5 of each query that has
    entity tags (in query order): what the means are taken over, and what a bootstrap
    resamples."""
    ndcg, precision, recall = [], [], []
    for query, ids in zip(queries, lists, strict=True):
        target = {query.pair.target}
        ndcg.append(metrics.ndcg_at_k(ids, target, K))
        recall.append(metrics.recall_at_k(ids, target, K))
        if query.mates is not None:
            precision.append(metrics.precision_at_k(ids, query.mates, K))
    return ndcg, recall, precision


def score_lists(queries: Sequence[Query], lists: Sequence[Sequence[str]]) -> dict[str, float]:
    ndcg, recall, precision = per_query(queries, lists)
    return {
        "ndcg@5": metrics.mean_of(ndcg),
        "recall@5": metrics.mean_of(recall),
        "entity_p@5": metrics.mean_of(precision),
        "queries": float(len(queries)),
        "queries_with_entities": float(len(precision)),
    }


def grid_points() -> dict[str, dict[str, float]]:
    """Every fixed blend of the four signals at the grid's levels (all zero left out)."""
    out = {}
    for levels in itertools.product(GRID_LEVELS, repeat=len(GRID_SIGNALS)):
        if any(levels):
            weights = {s: w for s, w in zip(GRID_SIGNALS, levels, strict=True) if w}
            name = "grid " + " ".join(f"{s[:3]}={w:g}" for s, w in weights.items())
            out[name] = weights
    return out


def evaluate_variants(
    ranker: Ranker,
    queries: Sequence[Query],
    blends: dict[str, dict[str, float] | Weights],
    seed: int,
    pool: Sequence[str],
) -> dict[str, dict[str, float]]:
    """Baselines (random, the popular list) and every blend, with MMR as the service ranks."""
    rng = np.random.default_rng(seed)
    randoms = []
    for q in queries:
        picks = rng.choice(len(pool), size=min(K + 1, len(pool)), replace=False)
        randoms.append([pool[i] for i in picks if pool[i] != q.pair.query][:K])
    out = {
        "random": score_lists(queries, randoms),
        "popular list": score_lists(queries, [q.popular for q in queries]),
    }
    for name, weights in blends.items():
        out[name] = score_lists(queries, lists_of(ranker, queries, weights, mmr=True))
    return out


def pareto(points: dict[str, dict[str, float]]) -> list[str]:
    """Names no other point beats on both next-click nDCG@5 and entity P@5."""
    names = list(points)
    return [
        a
        for a in names
        if not any(
            points[b]["ndcg@5"] > points[a]["ndcg@5"]
            and points[b]["entity_p@5"] > points[a]["entity_p@5"]
            for b in names
        )
    ]
