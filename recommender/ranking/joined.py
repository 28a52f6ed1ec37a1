"""The Lees-ook candidates that do not come from the vector neighbours: lexical and co-read
neighbours (named per article) and the popular head (the same for every article until a click
reorders it), as index rows with their vectors, in order, each once."""

from __future__ import annotations

import itertools

import numpy as np

from recommender.index import VectorIndex
from recommender.popularity import Popularity, PopularityCounters


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
        self._kept: tuple[list[str], tuple[VectorIndex, int], list[int], np.ndarray] | None
        self._kept = None

    def of(self, index: VectorIndex, ids: list[str]) -> tuple[list[int], np.ndarray]:
        """The live rows of ids (unknown ids left out), in order, and their vectors."""
        kept = self._kept
        # a list compares item by item, by identity first: ~50 pointers when nothing moved
        if kept is None or kept[1] != (index, index.changes) or kept[0] != ids:
            rows = index.rows(ids)
            rows = rows[rows >= 0]
            vectors = index.vectors_at(rows)
            kept = self._kept = (list(ids), (index, index.changes), rows.tolist(), vectors)
        return kept[2], kept[3]


def joined_rows(
    index: VectorIndex,
    named: list[str],
    popular: tuple[list[int], np.ndarray],
    taken: np.ndarray,
) -> tuple[list[int], np.ndarray]:
    """The rows (and their vectors) of the named articles then the popular ones, in that order,
    each once and none among the taken (vector) rows: what the ids of all of them in order,
    without repeats, looked up in the index and outside the taken rows would give."""
    # a set of ~100 Python ints: fewer steps than the array set operations (~15 us a request)
    taken_rows = set(taken.tolist())
    # a live row is one article: its rows each once are its ids each once
    rows = index.distinct_rows(named, taken_rows)
    # and a popular row among the named ones is that article again
    taken_rows.update(rows)
    popular_rows, popular_vectors = popular
    fresh = [at for at, row in enumerate(popular_rows) if row not in taken_rows]
    # the vectors gathered straight into one array: no concatenation of two copies after
    vectors = np.empty((len(rows) + len(fresh), index.dim), dtype=np.float32)
    index.vectors_at(rows, out=vectors[: len(rows)])
    if len(fresh) == len(popular_rows):
        vectors[len(rows) :] = popular_vectors
        return rows + popular_rows, vectors
    popular_vectors.take(fresh, axis=0, out=vectors[len(rows) :], mode="clip")  # in range
    return rows + [popular_rows[at] for at in fresh], vectors
