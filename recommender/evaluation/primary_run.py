"""The primary comparison end to end: train users' folds → learned blend; test users' next
clicks → every variant (baselines, content-only, the grid, the learned blend), the frontier and
the acceptance figures. Nothing here is chosen on test users."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

from recommender.config import Settings
from recommender.evaluation.data import next_click_pairs
from recommender.evaluation.primary import (
    CONTENT,
    GRID_SIGNALS,
    Query,
    Signals,
    collect,
    evaluate_variants,
    grid_points,
    pareto,
    ranker_for,
)
from recommender.evaluation.primary_training import learn_blend
from recommender.evaluation.protocols import Topics
from recommender.evaluation.setup import (
    EvalOptions,
    Prepared,
    fold_split,
    replay_popularity_config,
    subsample,
)
from recommender.logs import ProgressFactory
from recommender.ranking import Weights
from recommender.ranking.ranker_file import read_ranker_file, write_ranker_file
from recommender.ranking.weights import Gate

log = logging.getLogger(__name__)

SHIPPED = "learned"
CLICK_RATIO = 3.0  # the shipped nDCG@5 over the best content-only variant's, at least
ENTITY_RATIO = 0.95  # its entity P@5 over the best content-only variant's, at least


def run_primary(
    prep: Prepared, options: EvalOptions, half_life: float, bars: ProgressFactory | None
) -> dict[str, Any]:
    world, settings = prep.world, prep.settings
    pool = sorted(world.catalog.published_ids())
    topics = Topics(world.catalog, pool)
    popularity, coreads = replay_popularity_config(settings, half_life), settings.coread_config()
    train_pairs, _ = next_click_pairs(prep.data, prep.train, prep.known)
    test_pairs, test_stats = next_click_pairs(prep.data, prep.test, prep.known)
    if options.quick:
        train_pairs = subsample(train_pairs, options.quick_limit * 2, options.seed + 2)
        test_pairs = subsample(test_pairs, options.quick_limit, options.seed + 3)
    step = bars("primary: train", len(train_pairs)) if bars else None
    train: list[Query] = []
    for fold in (0, 1):
        # each fold's features are counted from the OTHER fold's events
        fold_pairs, events = fold_split(prep, train_pairs, options.seed, fold)
        signals = Signals.fresh(popularity, coreads)
        ranker = ranker_for(world, signals)
        train += collect(ranker, signals, fold_pairs, events, topics, step)
    grid = grid_points()
    content = {
        n: w for n, w in {**CONTENT, **grid}.items() if family_of(n, grid).endswith("content")
    }
    learned, training = learn_blend(ranker, train, options.seed, content)
    step = bars("primary: test", len(test_pairs)) if bars else None
    signals = Signals.fresh(popularity, coreads)
    ranker = ranker_for(world, signals)
    # test users' truth; only train users' events feed popularity and co-reads
    test = collect(ranker, signals, test_pairs, prep.train_events, topics, step)
    blends: dict[str, dict[str, float] | Weights] = {**CONTENT, **grid, SHIPPED: learned}
    results = evaluate_variants(ranker, test, blends, options.seed, pool)
    families = {name: family_of(name, grid) for name in results}
    return {
        "test_pairs": test_stats,
        "test_queries": len(test),
        "variants": results,
        "families": families,
        "weights": {**CONTENT, **grid, SHIPPED: learned.values},
        "learned": learned.values,
        "gate": _gate_dict(learned),
        "training": training,
        "frontier": pareto(results),
        "acceptance": acceptance(results, families),
        "shipped": SHIPPED,
    }


def _gate_dict(weights: Weights) -> dict[str, Any] | None:
    gate = weights.gate
    return None if gate is None else {"relevance": list(gate.relevance), "share": gate.share}


def family_of(name: str, grid: dict[str, dict[str, float]]) -> str:
    if name in ("random", "popular list"):
        return "baseline"
    if name == SHIPPED:
        return "learned"
    if name in CONTENT:
        return "content"  # embeddings, lexical and names: what the article itself says
    weights = grid[name]
    return "grid content" if not weights.keys() - {"similarity", "lexical"} else "grid"


def acceptance(results: dict[str, dict[str, float]], families: dict[str, str]) -> dict[str, Any]:
    shipped = results[SHIPPED]
    content = [n for n, f in families.items() if f in ("content", "grid content")]
    best = max(content, key=lambda n: _num(results[n]["entity_p@5"]))
    dominated_by = [
        n
        for n, f in families.items()
        if f.startswith("grid")
        and results[n]["ndcg@5"] > shipped["ndcg@5"]
        and results[n]["entity_p@5"] > shipped["entity_p@5"]
    ]
    click = _ratio(shipped["ndcg@5"], results[best]["ndcg@5"])
    entity = _ratio(shipped["entity_p@5"], results[best]["entity_p@5"])
    return {
        "grid_signals": list(GRID_SIGNALS),
        "best_content_variant": best,
        "ndcg@5_ratio": click,
        "entity_p@5_ratio": entity,
        "click_target_met": click >= CLICK_RATIO,
        "entity_target_met": entity >= ENTITY_RATIO,
        "dominated_by_grid": dominated_by,
        "not_dominated": not dominated_by,
    }


def _num(value: float) -> float:
    return -math.inf if value is None or math.isnan(value) else float(value)


def _ratio(a: float, b: float) -> float:
    x, y = _num(a), _num(b)
    return round(x / y, 4) if y > 0 and math.isfinite(x) else math.nan


def ranker_file_check(settings: Settings, primary: dict[str, Any]) -> dict[str, Any]:
    """The service serves the ranker file: it must hold the blend evaluated here."""
    served = read_ranker_file(settings.resolved_ranker_path).weights
    return {
        "path": str(settings.resolved_ranker_path),
        "present": served is not None,
        "matches": served is not None
        and served.values == primary["learned"]
        and _gate_dict(served) == primary["gate"],
    }


def write_trained_ranker(
    path: Path, prep: Prepared, half_life: float, primary: dict[str, Any], quick: bool
) -> None:
    """The shipped blend into the ranker file the service serves, with its features, the data
    it was learned from (fingerprint) and its train metrics."""
    training = primary["training"]
    write_ranker_file(
        path,
        Weights(
            primary["learned"],
            gate=None
            if primary["gate"] is None
            else Gate(tuple(primary["gate"]["relevance"]), primary["gate"]["share"]),
        ),
        half_life,
        {
            "model": training["model"],
            "features": training["features"],
            "data": {
                "news": str(prep.options.news),
                "behaviors": str(prep.options.behaviors),
                "fingerprint": prep.data.fingerprint,
                "train_users": len(prep.train),
                "test_fraction": prep.options.test_fraction,
                "seed": prep.options.seed,
            },
            "embedding_model": prep.settings.model_name,
            "click_models": training["click_models"],
            "chosen": training["chosen"],
            "train_metrics": training["train_metrics"],
            "test_metrics": primary["variants"][SHIPPED],
            "quick": quick,
        },
    )
