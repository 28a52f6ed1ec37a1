"""Maximal marginal relevance over arrays: each pick trades its score against its closeness to
the picks before it, so a Lees-ook list is not four copies of one story."""

from __future__ import annotations

import numpy as np


def mmr_order(
    vectors: np.ndarray, scores: np.ndarray, k: int, lam: float, duplicate: float
) -> list[int]:
    """Positions of up to k picks, in order. vectors: unit rows in step with scores; a row at
    cosine >= duplicate to an earlier pick is never picked (two copies of one story)."""
    if duplicate <= 0.0:
        return []  # every row is that close to "no pick yet" (cosine 0): none can be picked
    # a row that can no longer be picked (picked, or a duplicate: closeness only grows) has its
    # relevance set to -inf once, so each pick is the argmax of relevance - penalty * closeness
    # with no mask to apply (each numpy step costs ~1 us on these ~40 rows). A duplicate is
    # found when the argmax lands on it (rare): then it is set aside and the argmax taken
    # again, the first of equal values among the rest, as a mask of every duplicate would give
    relevance = lam * scores
    penalty = 1.0 - lam
    value = relevance  # closeness is 0 before the first pick: nothing to subtract
    closeness: np.ndarray | None = None  # cosine to the closest pick so far (may be negative)
    chosen: list[int] = []
    while len(chosen) < k:
        best = int(value.argmax())  # the first of equal values, as a scan would pick
        if value[best] == -np.inf:
            break
        if closeness is not None and closeness[best] >= duplicate:
            relevance[best] = value[best] = -np.inf  # as close as that to a pick: never
            continue
        chosen.append(best)
        if len(chosen) == k:
            break  # the last pick: nothing after it to keep apart from it
        to_best = vectors @ vectors[best]
        closeness = to_best if closeness is None else np.maximum(closeness, to_best)
        relevance[best] = -np.inf
        value = relevance - penalty * closeness
    return chosen
