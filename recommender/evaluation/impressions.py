"""The impression protocol: MIND's own metrics (AUC, MRR, nDCG@5, nDCG@10) over the lists readers
were shown, each candidate scored by popularity, at random, or by a Lees-ook blend in the context
of the last article read. Popularity is replayed from train users' earlier events only."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence

import numpy as np

from recommender.evaluation import metrics
from recommender.evaluation.data import Impression
from recommender.evaluation.protocols import Replay, Variant, World
from recommender.events import Event
from recommender.logs import Progress
from recommender.popularity import Popularity

Scorer = Callable[[Popularity, Impression, list[int]], list[float]]
IMPRESSION_METRICS = ("auc", "mrr", "ndcg@5", "ndcg@10")


def impression_scores(
    impressions: Sequence[Impression],
    events: Sequence[Event],
    scorers: dict[str, tuple[Popularity, Scorer]],
    seed: int,
    progress: Progress | None = None,
) -> dict[str, dict[str, float]]:
    """MIND's AUC, MRR, nDCG@5 and nDCG@10 per impression, averaged. Each scorer sees the
    candidates in one seeded shuffled order, so ties are broken neither by the log's own order
    nor differently per variant. A scorer returns [] to skip an impression."""
    counters = list({id(p): p for p, _ in scorers.values()}.values())
    replay = Replay(events, counters)
    rng = np.random.default_rng(seed)
    acc: dict[str, dict[str, list[float | None]]] = {name: defaultdict(list) for name in scorers}
    for imp in sorted(impressions, key=lambda i: (i.ts, i.impression_id)):
        replay.advance(imp.ts)
        order = [int(i) for i in rng.permutation(len(imp.shown))]
        labels = [imp.labels[i] for i in order]
        for name, (popularity, scorer) in scorers.items():
            scores = scorer(popularity, imp, order)
            if not scores:
                continue
            kept = [y for y, s in zip(labels, scores, strict=True) if not math.isnan(s)]
            values = [s for s in scores if not math.isnan(s)]
            if sum(kept) == 0 or sum(kept) == len(kept):
                continue  # MIND skips an impression with no click (or nothing but clicks)
            m = acc[name]
            m["auc"].append(metrics.impression_auc(values, kept))
            m["mrr"].append(metrics.impression_mrr(values, kept))
            m["ndcg@5"].append(metrics.impression_ndcg(values, kept, 5))
            m["ndcg@10"].append(metrics.impression_ndcg(values, kept, 10))
        if progress:
            progress(1)
    return {
        name: {
            **{metric: metrics.mean_of(m[metric]) for metric in IMPRESSION_METRICS},
            "impressions": float(len(m["auc"])),
        }
        for name, m in acc.items()
    }


def popularity_scorer(window: str) -> Scorer:
    def score(popularity: Popularity, imp: Impression, order: list[int]) -> list[float]:
        ids = [imp.shown[i] for i in order]
        return [float(s) for s in popularity.scores(ids, imp.ts, window)]

    return score


def random_scorer(seed: int) -> Scorer:
    rng = np.random.default_rng(seed + 1)

    def score(popularity: Popularity, imp: Impression, order: list[int]) -> list[float]:
        return [float(v) for v in rng.random(len(order))]

    return score


def context_scorer(world: World, variant: Variant, known: set[str]) -> Scorer:
    """Lees ook on impressions: the last read article with text is the context; candidates
    with text are scored by Ranker.features + the variant's weights, the rest are left out
    (NaN), since no similarity can be computed for them."""
    rng = np.random.default_rng(17)

    def score(popularity: Popularity, imp: Impression, order: list[int]) -> list[float]:
        context = next((i for i in reversed(imp.history) if i in known), None)
        if context is None:
            return []
        ranker = world.ranker(popularity, variant)
        ids = [imp.shown[i] for i in order]
        cards = [world.catalog.get(i) if i in known and i != context else None for i in ids]
        present = [c for c in cards if c is not None]
        if len(present) < 2:
            return []
        if variant.kind == "random":
            values = [float(v) for v in rng.random(len(present))]
        elif variant.kind == "popular":
            values = [float(v) for v in popularity.normalised([c.id for c in present], imp.ts)]
        else:
            values = ranker.score_candidates(context, present, imp.ts).scores
        by_id = dict(zip((c.id for c in present), values, strict=True))
        return [by_id.get(c.id, math.nan) if c is not None else math.nan for c in cards]

    return score
