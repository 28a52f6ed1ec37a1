"""The learned Lees-ook blend of the primary comparison, chosen on TRAIN users only: a linear
click model over every served feature (fitted on train users' next clicks, each fold's
popularity and co-reads counted from the other fold's events), plus a topical boost along the
content signals: the boost and fitting method with the best next-click nDCG@5 that keep 95% of
the best content-only entity precision@5 on train users (the topical constraint)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from recommender.evaluation.primary import Query, lists_of, score_lists
from recommender.evaluation.training import TrainingSet, fit_weights
from recommender.ranking import FEATURES, Ranker

log = logging.getLogger(__name__)

# every feature the service computes without tags: tag and entity overlap are ground truth here
LEARNED_FEATURES = (
    "similarity",
    "lexical",
    "name_overlap",
    "coreads",
    "popularity",
    "freshness",
    "same_section",
)
TOPICAL_DIRECTION = {"similarity": 1.0, "lexical": 1.0, "name_overlap": 1.0}
BOOSTS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
METHODS = ("pointwise", "pairwise")
ENTITY_SHARE = 0.95  # of the best content-only entity precision@5 the shipped blend keeps


def training_set(queries: Sequence[Query]) -> tuple[TrainingSet, int]:
    """Rows of every candidate of every train query whose next click is among its candidates
    (label 1 for it); and how many queries had it outside."""
    xs, ys, groups = [], [], []
    missing = 0
    for n, query in enumerate(queries):
        labels = np.array([i == query.pair.target for i in query.found.ids], dtype=int)
        if labels.sum() == 0:
            missing += 1
            continue
        xs.append(query.found.matrix)
        ys.append(labels)
        groups.append(np.full(len(labels), n))
    x = np.vstack(xs) if xs else np.zeros((0, len(FEATURES)))
    y = np.concatenate(ys) if ys else np.zeros(0, int)
    grouped = np.concatenate(groups) if groups else np.zeros(0, int)
    return TrainingSet(x, y, len(xs), missing, 0, grouped), missing


def boosted(weights: dict[str, float], alpha: float) -> dict[str, float]:
    out = dict(weights)
    for name, value in TOPICAL_DIRECTION.items():
        out[name] = round(out.get(name, 0.0) + alpha * value, 6)
    return out


def learn_blend(
    ranker: Ranker,
    queries: Sequence[Query],
    seed: int,
    content_blends: dict[str, dict[str, float]],
) -> tuple[dict[str, float], dict[str, Any]]:
    """The shipped blend and how it was chosen (all on train users). content_blends: the
    content-only variants whose best entity precision sets the topical floor."""
    rows, missing = training_set(queries)
    clicks = {m: fit_weights(rows, LEARNED_FEATURES, seed, method=m) for m in METHODS}
    content = {
        name: score_lists(queries, lists_of(ranker, queries, w, mmr=True))
        for name, w in content_blends.items()
    }
    best_content = max(content, key=lambda n: content[n]["entity_p@5"])
    floor = ENTITY_SHARE * content[best_content]["entity_p@5"]
    table: dict[str, dict[str, float]] = {}
    for method, weights in clicks.items():
        for alpha in BOOSTS:
            blend = boosted(weights, alpha)
            table[f"{method}, α={alpha:g}"] = score_lists(
                queries, lists_of(ranker, queries, blend, mmr=True)
            )
    keeping = [n for n in table if table[n]["entity_p@5"] >= floor]
    if keeping:
        chosen = max(keeping, key=lambda n: table[n]["ndcg@5"])
    else:  # nothing keeps the topical floor: the most topical row
        chosen = max(table, key=lambda n: table[n]["entity_p@5"])
    method, alpha_text = chosen.split(", α=")
    shipped = boosted(clicks[method], float(alpha_text))
    log.info("eval.primary_learned", extra={"chosen": chosen, "weights": shipped})
    training = {
        "features": list(LEARNED_FEATURES),
        "model": "linear (logistic regression) + topical boost",
        "train_queries": len(queries),
        "training_queries": rows.queries,
        "training_rows": len(rows.y),
        "target_not_in_candidates": missing,
        "click_models": clicks,
        "content_train": content,
        "best_content_train": best_content,
        "entity_floor_train": floor,
        "selection_train": {n: {**v, "chosen": n == chosen} for n, v in table.items()},
        "chosen": chosen,
        "train_metrics": table[chosen],
    }
    return shipped, training
