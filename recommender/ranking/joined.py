"""The Lees-ook candidates that do not come from the vector neighbours: lexical and co-read
neighbours (named per article) and the popular head (the same for every article until a click
reorders it), as index rows with their vectors, in order, each once."""

from __future__ import annotations

import itertools

import numpy as np

from recommender.index import VectorIndex
from recommender.popularity import Popularity, PopularityCounters
from recommender.ranking.slots import RowSlots


def popular_ids(popularity: PopularityCounters, count: int, now: float) -> list[str]:
    """The `count` most popular ids (decayed), in order: the in-process counters keep them as
    one list between clicks, where walking ranked()'s generators cost ~10 us a request."""
    if count <= 0:
        return []
    if isinstance(popularity, Popularity):
        return popularity.top(count)
    return list(itertools.islice(popularity.ranked(now), count))


class PopularRows:
    """The index rows and vectors of the popular candidates, kept while neither they nor the
    index change: every request joins the same head, and looking its ids up and gathering its
    vectors from all over the index cost ~27 us a request at 10k (paired A/B)."""

    def __init__(self) -> None:
        # one tuple, replaced whole: (ids, the index and its changes, rows, vectors)
        self._kept: tuple[list[str], tuple[VectorIndex, int], np.ndarray, np.ndarray] | None
        self._kept = None

    def of(self, index: VectorIndex, ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The live rows of ids (unknown ids left out), in order, and their vectors."""
        kept = self._kept
        # a list compares item by item, by identity first: ~50 pointers when nothing moved
        if kept is None or kept[1] != (index, index.changes) or kept[0] != ids:
            rows = index.rows(ids)
            rows = rows[rows >= 0]
            kept = self._kept = (list(ids), (index, index.changes), rows, index.vectors_at(rows))
        return kept[2], kept[3]


def joined_rows(
    index: VectorIndex,
    slots: RowSlots,
    named: list[str],
    popular: tuple[np.ndarray, np.ndarray],
    taken: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The rows (and their vectors) of the named articles then the popular ones, in that order,
    each once and none among the taken (vector) rows: what the ids of all of them in order,
    without repeats, looked up in the index and outside the taken rows would give."""
    rows = index.rows(list(dict.fromkeys(named))) if named else np.zeros(0, dtype=np.int64)
    rows = rows[rows >= 0]
    rows = rows[slots.outside(rows, taken)]
    popular_rows, popular_vectors = popular
    # a live row is one article: a popular row among the named ones is that article again
    fresh = slots.outside(popular_rows, taken) & slots.outside(popular_rows, rows)
    if not fresh.any():
        return rows, index.vectors_at(rows)
    vectors = np.concatenate([index.vectors_at(rows), popular_vectors[fresh]])
    return np.concatenate([rows, popular_rows[fresh]]), vectors
