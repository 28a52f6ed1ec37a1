"""The features a Lees-ook candidate is scored on, each in [0, 1], for one query article."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from recommender.catalog import Card

DAY = 86_400.0

FEATURES = (
    "similarity",
    "lexical",
    "popularity",
    "freshness",
    "same_section",
    "tag_overlap",
    "entity_overlap",
    "name_overlap",
    "coreads",
)


def relative_similarity(sims: np.ndarray) -> np.ndarray:
    """Cosine rescaled to [0, 1] across one article's candidates (best = 1, worst = 0).

    Models spread cosines very differently (an English model on Dutch text puts everything
    between 0.45 and 0.8), so blend weights learned on raw cosines with one model would let
    popularity swamp similarity with another. Relative similarity keeps weights portable."""
    sims = np.asarray(sims, dtype=np.float64)
    if sims.size == 0:
        return sims
    low, high = float(sims.min()), float(sims.max())
    if high - low < 1e-9:
        return np.ones_like(sims)
    scaled: np.ndarray = (sims - low) / (high - low)
    return scaled


def overlap(a: Sequence[str], b: Sequence[str]) -> float:
    """|a ∩ b| / min(|a|, |b|): 1.0 when the shorter list is contained in the longer one."""
    if not a or not b:
        return 0.0
    return len(set(a) & set(b)) / min(len(set(a)), len(set(b)))


def candidate_features(
    query: Card | None,
    cards: Sequence[Card],
    sims: np.ndarray,
    popularity: np.ndarray,
    lexical: np.ndarray,
    now: float,
    freshness_half_life_days: float,
    names: np.ndarray | None = None,
    coreads: np.ndarray | None = None,
) -> list[dict[str, float]]:
    """One feature dict per candidate, in FEATURES order. sims are raw cosines to the query;
    popularity, lexical, names (shared salient names) and coreads are already in [0, 1]."""
    names = np.zeros(len(cards)) if names is None else names
    coreads = np.zeros(len(cards)) if coreads is None else coreads
    half_life = freshness_half_life_days * DAY
    relative = relative_similarity(sims)
    out = []
    columns = zip(cards, relative, popularity, lexical, names, coreads, strict=True)
    for card, sim, pop, lex, named, read in columns:
        age = None if card.published_ts is None else max(0.0, now - card.published_ts)
        same = query is not None and query.section is not None and card.section == query.section
        out.append(
            {
                "similarity": float(sim),
                "lexical": float(lex),
                "popularity": float(pop),
                "freshness": 0.0 if age is None else math.pow(2.0, -age / half_life),
                "same_section": 1.0 if same else 0.0,
                "tag_overlap": overlap(query.tags, card.tags) if query else 0.0,
                "entity_overlap": overlap(query.entities, card.entities) if query else 0.0,
                "name_overlap": float(named),
                "coreads": float(read),
            }
        )
    return out


def explanation(
    features: dict[str, float], weights: dict[str, float], total: float
) -> dict[str, object]:
    """What explain=true shows of one listed item: each feature's value, the contribution
    (weight x value) of each weighted feature to the total, and the total."""
    reasons: dict[str, object] = dict(features)
    reasons["contributions"] = {
        name: round(weights[name] * value, 6)
        for name, value in features.items()
        if weights.get(name, 0.0) != 0.0
    }
    reasons["total"] = total
    return reasons
