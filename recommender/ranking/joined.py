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


class JoinedRows:
    """The rows (and vectors) of the candidates a ranker joins to the vector ones: the popular
    head's kept between requests (PopularRows), and a byte per index row, all 0 between calls,
    marking the rows a call has taken so far. Python indexes a bytearray at C level, so a call
    tests and marks rows without building a set of ~100 Python ints (~12 us a request at 10k,
    paired A/B). The last byte, which row -1 ("no such id") reads, stays 1: taken already."""

    def __init__(self) -> None:
        self.popular = PopularRows()
        self._seen = bytearray(b"\x01")
        self._marks = np.frombuffer(self._seen, dtype=np.uint8)  # the same bytes, for numpy

    def of(
        self, index: VectorIndex, named: list[str], popular: list[str], taken: np.ndarray
    ) -> tuple[list[int], np.ndarray]:
        """The rows of the named articles then the popular ones, in that order, each once and
        none among taken (live rows), with their vectors: what the ids of all of them in order,
        without repeats, looked up in the index and outside the taken rows would give."""
        popular_rows, popular_vectors = self.popular.of(index, popular)
        seen = self._fit(len(index.row_map()[0]))
        marks = self._marks
        rows: list[int] = []
        marks[taken] = 1
        try:
            # a live row is one article: its rows each once are its ids each once
            index.unmarked_rows(named, seen, rows)
            # and a popular row among the named ones is that article again
            fresh = [at for at, row in enumerate(popular_rows) if not seen[row]]
        finally:
            marks[taken] = 0
            for row in rows:
                seen[row] = 0
        assert seen[-1], "taken held row -1"
        # the vectors gathered straight into one array: no concatenation of two copies after
        vectors = np.empty((len(rows) + len(fresh), index.dim), dtype=np.float32)
        index.vectors_at(rows, out=vectors[: len(rows)])
        if len(fresh) == len(popular_rows):
            vectors[len(rows) :] = popular_vectors
            return rows + popular_rows, vectors
        popular_vectors.take(fresh, axis=0, out=vectors[len(rows) :], mode="clip")  # in range
        return rows + [popular_rows[at] for at in fresh], vectors

    def _fit(self, rows: int) -> bytearray:
        """The marks, with room for rows rows and the spare byte after them."""
        if rows >= len(self._seen):
            # a new array (one with a numpy view cannot be resized), doubling: O(1) amortised
            seen = bytearray(max(2 * len(self._seen), rows + 1))
            seen[-1] = 1
            self._seen, self._marks = seen, np.frombuffer(seen, dtype=np.uint8)
        return self._seen
