"""Everything chosen on train users, never on test users: the popularity half-life, the click
model and (through topical.py) the topical boost of the shipped blend and of its entity-free
counterpart."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from recommender.evaluation.data import Pair, next_click_pairs
from recommender.evaluation.impressions import impression_scores, popularity_scorer
from recommender.evaluation.protocols import Replay, Variant
from recommender.evaluation.setup import (
    SERVICE_FEATURES,
    SHIPPED,
    EvalOptions,
    Learned,
    Prepared,
    fold_split,
    impressions_of,
    replay_popularity_config,
    subsample,
)
from recommender.evaluation.topical import (
    PORTABLE,
    PORTABLE_BOOSTS,
    PORTABLE_DIRECTIONS,
    PORTABLE_FEATURES,
    boosted,
    choose_blend,
)
from recommender.evaluation.training import TrainingSet, fit_weights, merge, training_rows
from recommender.logs import ProgressFactory
from recommender.popularity import Popularity

log = logging.getLogger(__name__)


def choose_half_life(
    prep: Prepared, options: EvalOptions, bars: ProgressFactory | None
) -> tuple[float, dict[str, dict[str, float]]]:
    """The Populair-nieuws half-life with the best mean of AUC and nDCG@10 on train users'
    impressions (popularity from train users' earlier clicks)."""
    imps = impressions_of(prep, prep.train, options, 1)
    scorers = {
        f"decayed {h:g}h": (
            Popularity(replay_popularity_config(prep.settings, h)),
            popularity_scorer("decayed"),
        )
        for h in options.half_lives
    }
    step = bars("half-life", len(imps)) if bars else None
    table = impression_scores(imps, prep.train_events, scorers, options.seed, step)
    best = max(
        options.half_lives,
        key=lambda h: table[f"decayed {h:g}h"]["auc"] + table[f"decayed {h:g}h"]["ndcg@10"],
    )
    log.info("eval.half_life", extra={"hours": best})
    return best, table


def learn(prep: Prepared, options: EvalOptions, bars: ProgressFactory | None) -> Learned:
    """Half-life on train impressions, then logistic regression on train users' next-click
    pairs (popularity features from the other fold), then the topical boost on train users."""
    half_life, half_life_table = choose_half_life(prep, options, bars)
    pairs, pair_stats = next_click_pairs(prep.data, prep.train, prep.known)
    if options.quick:
        pairs = subsample(pairs, options.quick_limit * 2, options.seed + 2)
    merged = training_set(prep, options, half_life, pairs, bars)
    clicks = click_models(merged, options.seed, FEATURE_SETS)
    clicks_lexical = click_models(merged, options.seed, FEATURE_SETS, extra=("lexical",))
    (method, direction, alpha), table = choose_blend(prep, options, half_life, pairs, clicks, bars)
    portable_clicks = click_models(merged, options.seed, {"portable": PORTABLE_FEATURES})
    (p_method, p_direction, p_alpha), portable_table = choose_blend(
        prep,
        options,
        half_life,
        pairs,
        portable_clicks,
        bars,
        directions=PORTABLE_DIRECTIONS,
        boost_grid=PORTABLE_BOOSTS,
        # without TF-IDF or entities, semantic similarity alone is the content-only bar
        reference=["embeddings", "embeddings -mmr"],
    )
    weights = {
        PORTABLE: boosted(portable_clicks[p_method], p_direction, p_alpha, PORTABLE_DIRECTIONS),
        SHIPPED: boosted(clicks[method], direction, alpha),
        "learned+lexical": boosted(clicks_lexical[method], direction, alpha),
        "learned (clicks only)": clicks[method],
    }
    training = {
        "method": method,
        "topical_direction": direction,
        "topical_boost": alpha,
        "selection_train": table,
        "click_models": clicks,
        "without_entities": {
            "method": p_method,
            "topical_direction": p_direction,
            "topical_boost": p_alpha,
            "click_models": portable_clicks,
            "train_metrics": next((v for v in portable_table.values() if v.get("chosen")), None),
        },
        **pair_stats,
        "training_queries": merged.queries,
        "training_rows": len(merged.y),
        "target_not_in_candidates": merged.target_not_in_candidates,
        "features": list(SERVICE_FEATURES),
    }
    return Learned(half_life, half_life_table, weights, training)


def training_set(
    prep: Prepared,
    options: EvalOptions,
    half_life: float,
    pairs: Sequence[Pair],
    bars: ProgressFactory | None,
) -> TrainingSet:
    """Feature rows of every candidate of every train pair, popularity replayed up to the pair's
    moment from the other fold's events."""
    step = bars("features", len(pairs)) if bars else None
    sets: list[TrainingSet] = []
    variant = Variant("features", "blend", lexical=True)
    for fold in (0, 1):
        fold_pairs, events = fold_split(prep, pairs, options.seed, fold)
        popularity = Popularity(replay_popularity_config(prep.settings, half_life))
        ranker = prep.world.ranker(popularity, variant)
        replay = Replay(events, [popularity])
        for pair in sorted(fold_pairs, key=lambda p: p.ts):
            replay.advance(pair.ts)
            sets.append(training_rows(ranker, [(pair.query, pair.target, pair.ts)], step))
    return merge(sets)


def click_models(
    rows: TrainingSet,
    seed: int,
    feature_sets: dict[str, tuple[str, ...]],
    extra: tuple[str, ...] = (),
) -> dict[str, dict[str, float]]:
    """One click model per fitting method and feature set, named "method, feature set"."""
    return {
        f"{m}, {name}": fit_weights(rows, (*features, *extra), seed, method=m)
        for m in METHODS
        for name, features in feature_sets.items()
    }


METHODS = ("pointwise", "pairwise")
# feature sets the click model may use; which one is chosen on train users
FEATURE_SETS = {
    "all features": SERVICE_FEATURES,
    "no similarity": tuple(f for f in SERVICE_FEATURES if f != "similarity"),
}
