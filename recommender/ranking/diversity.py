"""Maximal marginal relevance over arrays: each pick trades its score against its closeness to
the picks before it, so a Lees-ook list is not four copies of one story."""

from __future__ import annotations

import numpy as np


def mmr_order(
    vectors: np.ndarray, scores: np.ndarray, k: int, lam: float, duplicate: float
) -> list[int]:
    """Positions of up to k picks, in order. vectors: unit rows in step with scores; a row at
    cosine >= duplicate to an earlier pick is never picked (two copies of one story)."""
    # what does not change between picks is taken once: the scaled scores, and which rows can
    # no longer be picked (closeness only grows, so a duplicate stays one)
    relevance = lam * scores
    penalty = 1.0 - lam
    # cosine to the closest pick so far (it may be negative); 0 before the first pick
    closeness = np.zeros(len(scores), dtype=np.float64)
    closed = closeness >= duplicate
    chosen: list[int] = []
    while len(chosen) < k:
        value = relevance - penalty * closeness
        value[closed] = -np.inf
        best = int(value.argmax())  # the first of equal values, as a scan would pick
        if value[best] == -np.inf:
            break
        chosen.append(best)
        if len(chosen) == k:
            break  # the last pick: nothing after it to keep apart from it
        to_best = vectors @ vectors[best]
        closeness = to_best if len(chosen) == 1 else np.maximum(closeness, to_best)
        closed |= closeness >= duplicate
        closed[best] = True
    return chosen
