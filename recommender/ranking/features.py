"""The features a Lees-ook candidate is scored on, each in [0, 1], for one query article."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recommender.catalog import DAY_SECONDS, Card

DAY = DAY_SECONDS

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
    low, high = float(np.minimum.reduce(sims)), float(np.maximum.reduce(sims))
    if high - low < 1e-9:
        return np.ones_like(sims)
    scaled: np.ndarray = (sims - low) / (high - low)
    return scaled


def overlap(a: Sequence[str], b: Sequence[str]) -> float:
    """|a ∩ b| / min(|a|, |b|): 1.0 when the shorter list is contained in the longer one."""
    if not a or not b:
        return 0.0
    return len(set(a) & set(b)) / min(len(set(a)), len(set(b)))


def feature_matrix(
    sims: np.ndarray,
    popularity: np.ndarray,
    lexical: np.ndarray | None,
    published_ts: np.ndarray,
    same_section: np.ndarray,
    overlaps: tuple[np.ndarray, np.ndarray] | None,
    now: float,
    freshness_half_life_days: float,
    names: np.ndarray | None = None,
    coreads: np.ndarray | None = None,
) -> np.ndarray:
    """Features of every candidate at once: one row per candidate, one column per FEATURES
    name. sims are raw cosines to the query; popularity and lexical (None: 0) are in [0, 1];
    published_ts has NaN where a candidate has no publication time; overlaps are the tag and
    entity overlaps (None: the query has neither, so both are 0); names and coreads are the
    shared salient names and the co-read similarity, in [0, 1] (None: 0)."""
    count = len(sims)
    out = np.zeros((count, len(FEATURES)))
    if count == 0:
        return out
    # relative_similarity(sims) written in place: no array to copy into the column after
    sims = np.asarray(sims, dtype=np.float64)
    low, high = float(np.minimum.reduce(sims)), float(np.maximum.reduce(sims))
    if high - low < 1e-9:
        out[:, 0] = 1.0
    else:
        np.subtract(sims, low, out=out[:, 0])
        np.divide(out[:, 0], high - low, out=out[:, 0])
    if lexical is not None:
        out[:, 1] = lexical
    out[:, 2] = popularity
    # in place, ~1 us a step saved: age / -h is -age / h to the bit (division is
    # sign-symmetric), and fmax(f, 0) is f but 0 where f is NaN (no publication time)
    freshness = np.maximum(0.0, now - published_ts)
    np.divide(freshness, -(freshness_half_life_days * DAY), out=freshness)
    np.exp2(freshness, out=freshness)
    np.fmax(freshness, 0.0, out=out[:, 3])
    out[:, 4] = same_section
    if overlaps is not None:
        out[:, 5], out[:, 6] = overlaps
    if names is not None:
        out[:, 7] = names
    if coreads is not None:
        out[:, 8] = coreads
    return out


def overlaps_of(query: Card, cards: Sequence[Card]) -> tuple[np.ndarray, np.ndarray] | None:
    """Tag and entity overlap of each card with the query; None when the query has neither
    (most sites tag nothing: then no card is looked at)."""
    if not query.tags and not query.entities:
        return None
    tags = np.array([overlap(query.tags, c.tags) for c in cards], dtype=np.float64)
    entities = np.array([overlap(query.entities, c.entities) for c in cards], dtype=np.float64)
    return tags, entities


def as_dicts(matrix: np.ndarray) -> list[dict[str, float]]:
    """One {feature: value} per row: explanations and training rows, never the hot path."""
    return [dict(zip(FEATURES, row, strict=True)) for row in matrix.tolist()]


def explanation(values: np.ndarray, weights: np.ndarray, total: float) -> dict[str, object]:
    """What explain=true shows of one listed item: each feature's value, the contribution
    (weight x value) of each weighted feature to the total, and the total."""
    row = values.tolist()
    reasons: dict[str, object] = dict(zip(FEATURES, row, strict=True))
    reasons["contributions"] = {
        name: round(w * v, 6)
        for name, w, v in zip(FEATURES, weights.tolist(), row, strict=True)
        if w != 0.0
    }
    reasons["total"] = total
    return reasons
