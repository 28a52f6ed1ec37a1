"""Ranking-evaluation metrics for the related-article recommender.

All functions are pure: they take plain Python sequences (or a numpy array
for :func:`intra_list_diversity`) and return a float, or ``None`` where the
metric is undefined for one impression and MIND scoring skips it.

Two families live here:

* Ranked-list metrics (``recall_at_k`` ... ``reciprocal_rank``) take a ranked
  list of item ids and a collection of relevant ids. Relevance is binary and
  an id repeated in the ranked list earns credit only at its first position.
* Impression metrics (``impression_auc``, ``impression_mrr``,
  ``impression_ndcg``) follow the MIND evaluation script: one impression is a
  list of candidate scores and click labels (1 = clicked, 0 = not clicked).
  Score ties are broken by original candidate order (stable sort) for MRR and
  nDCG, and count one half for AUC (Mann-Whitney). MIND's reference code sorts
  with ``np.argsort(scores)[::-1]``, which breaks ties in an unspecified
  order, so results can differ from it only when scores tie.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "catalogue_coverage",
    "impression_auc",
    "impression_mrr",
    "impression_ndcg",
    "intra_list_diversity",
    "mean_of",
    "ndcg_at_k",
    "novelty",
    "precision_at_k",
    "recall_at_k",
    "reciprocal_rank",
]


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")


def _first_hit_flags(ranked: Sequence[str], relevant: Collection[str]) -> list[bool]:
    """Per position: is this a relevant item seen here for the first time?"""
    relevant_set = set(relevant)
    seen: set[str] = set()
    flags: list[bool] = []
    for item in ranked:
        flags.append(item in relevant_set and item not in seen)
        seen.add(item)
    return flags


def _impression_arrays(
    scores: Sequence[float], labels: Sequence[int]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    if len(scores) != len(labels):
        raise ValueError(f"scores and labels differ in length: {len(scores)} != {len(labels)}")
    return np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=np.float64)


def _labels_by_score(
    scores: npt.NDArray[np.float64], labels: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Labels reordered by score descending; ties keep their original order."""
    order = np.argsort(-scores, kind="stable")
    return labels[order]


def _dcg(gain_labels: npt.NDArray[np.float64]) -> float:
    """MIND DCG of labels already in rank order: sum (2**l - 1) / log2(rank + 1)."""
    gains = np.power(2.0, gain_labels) - 1.0
    discounts = np.log2(np.arange(gain_labels.size, dtype=np.float64) + 2.0)
    return float(np.sum(gains / discounts))


# --------------------------------------------------------------------------
# ranked-list metrics
# --------------------------------------------------------------------------


def recall_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Fraction of the relevant items found in the top ``k``; 0.0 if none are relevant."""
    _check_k(k)
    n_relevant = len(set(relevant))
    if n_relevant == 0:
        return 0.0
    hits = sum(_first_hit_flags(ranked[:k], relevant))
    return hits / n_relevant


def precision_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Relevant items in the top ``k`` divided by ``k``.

    The divisor is ``k`` even when fewer than ``k`` items are ranked, so a
    short list is penalised for the empty slots.
    """
    _check_k(k)
    hits = sum(_first_hit_flags(ranked[:k], relevant))
    return hits / k


def ndcg_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Binary-gain nDCG@k with a ``1 / log2(rank + 1)`` discount.

    The ideal DCG places ``min(k, len(relevant))`` relevant items at the top.
    Returns 0.0 when nothing is relevant.
    """
    _check_k(k)
    n_relevant = len(set(relevant))
    if n_relevant == 0:
        return 0.0
    flags = _first_hit_flags(ranked[:k], relevant)
    dcg = sum(1.0 / math.log2(i + 2) for i, hit in enumerate(flags) if hit)
    idcg = sum(1.0 / math.log2(i + 2) for i in range(min(k, n_relevant)))
    return dcg / idcg


def reciprocal_rank(ranked: Sequence[str], relevant: Collection[str]) -> float:
    """``1 / rank`` of the first relevant item (ranks start at 1); 0.0 if none."""
    relevant_set = set(relevant)
    for i, item in enumerate(ranked):
        if item in relevant_set:
            return 1.0 / (i + 1)
    return 0.0


# --------------------------------------------------------------------------
# impression metrics (MIND)
# --------------------------------------------------------------------------


def impression_auc(scores: Sequence[float], labels: Sequence[int]) -> float | None:
    """ROC AUC of one impression (Mann-Whitney U / (n_pos * n_neg)).

    Each (clicked, non-clicked) pair counts 1 if the clicked candidate scores
    higher, 1/2 on a tie and 0 otherwise. Labels must be 0 or 1. Returns
    ``None`` when all labels are equal (no click, or every candidate clicked),
    since MIND scoring skips such impressions.
    """
    s, y = _impression_arrays(scores, labels)
    if not np.all((y == 0.0) | (y == 1.0)):
        raise ValueError("impression_auc needs labels of 0 or 1")
    pos = s[y == 1.0]
    neg = s[y == 0.0]
    if pos.size == 0 or neg.size == 0:
        return None
    diff = pos[:, np.newaxis] - neg[np.newaxis, :]
    wins = np.count_nonzero(diff > 0.0) + 0.5 * np.count_nonzero(diff == 0.0)
    return float(wins) / float(pos.size * neg.size)


def impression_mrr(scores: Sequence[float], labels: Sequence[int]) -> float | None:
    """MIND MRR: ``sum(label_i / rank_i) / sum(labels)`` with ranks by score descending.

    Ties in score keep the original candidate order (stable sort). Returns
    ``None`` when the impression has no click.
    """
    s, y = _impression_arrays(scores, labels)
    n_clicks = float(np.sum(y))
    if n_clicks == 0.0:
        return None
    ordered = _labels_by_score(s, y)
    ranks = np.arange(1, ordered.size + 1, dtype=np.float64)
    return float(np.sum(ordered / ranks)) / n_clicks


def impression_ndcg(scores: Sequence[float], labels: Sequence[int], k: int) -> float | None:
    """MIND nDCG@k: DCG of the top ``k`` by score over the ideal DCG.

    Gains are ``2**label - 1`` and the discount of rank ``r`` (from 1) is
    ``log2(r + 1)``. Ties in score keep the original candidate order (stable
    sort). Returns ``None`` when the impression has no click.
    """
    _check_k(k)
    s, y = _impression_arrays(scores, labels)
    if float(np.sum(y)) == 0.0:
        return None
    actual = _dcg(_labels_by_score(s, y)[:k])
    ideal = _dcg(np.sort(y)[::-1][:k])
    return actual / ideal


# --------------------------------------------------------------------------
# beyond-accuracy metrics
# --------------------------------------------------------------------------


def catalogue_coverage(lists: Iterable[Sequence[str]], catalogue_size: int) -> float:
    """Distinct items recommended across all lists divided by ``catalogue_size``."""
    if catalogue_size < 1:
        raise ValueError(f"catalogue_size must be >= 1, got {catalogue_size}")
    distinct: set[str] = set()
    for items in lists:
        distinct.update(items)
    return len(distinct) / catalogue_size


def intra_list_diversity(vectors: npt.NDArray[np.floating[Any]]) -> float:
    """``1 - mean cosine similarity`` over all pairs ``i < j`` of rows.

    Rows must already be L2-normalised (cosine is taken as the dot product;
    rows are not re-normalised). Returns 0.0 for fewer than two rows.
    """
    v = np.asarray(vectors, dtype=np.float64)
    if v.ndim != 2:
        raise ValueError(f"vectors must be a 2-D array, got shape {v.shape}")
    n = v.shape[0]
    if n < 2:
        return 0.0
    sims = v @ v.T
    upper = np.triu_indices(n, k=1)
    return 1.0 - float(np.mean(sims[upper]))


def novelty(items: Sequence[str], popularity: Mapping[str, float]) -> float:
    """Mean self-information ``-log2(p)`` of the items, in bits.

    ``p`` is the item's share of all interactions, ``popularity[item] / total``
    with ``total = sum(popularity.values())``. Unseen items (and zero counts)
    get the floor ``p = max(p, 1 / (total + 1))`` so they stay finite.
    Returns ``nan`` for an empty ``items``.
    """
    total = math.fsum(popularity.values())
    if total <= 0.0:
        raise ValueError("popularity must hold a positive total count")
    if len(items) == 0:
        return math.nan
    floor = 1.0 / (total + 1.0)
    info = [-math.log2(max(popularity.get(item, 0.0) / total, floor)) for item in items]
    return math.fsum(info) / len(info)


def mean_of(values: Iterable[float | None]) -> float:
    """Mean of the values that are not ``None``; ``nan`` if there are none."""
    present = [v for v in values if v is not None]
    if not present:
        return math.nan
    return math.fsum(present) / len(present)
