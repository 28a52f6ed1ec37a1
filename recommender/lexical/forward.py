"""Per-article term lists in flat, growable arrays (document-major CSR): the terms and counts of
row r are terms[indptr[r]:indptr[r + 1]]. One array per field instead of two small arrays per
article, so gathering the terms of a few hundred candidate rows is a handful of numpy calls."""

from __future__ import annotations

import numpy as np


def _grow(array: np.ndarray, size: int) -> np.ndarray:
    """array with room for size entries (doubling, so appends are amortised O(1))."""
    if size <= len(array):
        return array
    bigger = np.zeros(max(size, 2 * len(array), 1024), dtype=array.dtype)
    bigger[: len(array)] = array
    return bigger


def spans(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Positions start..start+length of every span, concatenated (no Python per span)."""
    return _positions(starts + lengths, lengths)


def spans_between(starts: np.ndarray, stops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions start..stop of every span, concatenated, and the spans' lengths: spans with
    one array step less when the stops are known."""
    lengths = stops - starts
    return _positions(stops, lengths), lengths


def _positions(stops: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The spans' positions: a count 0.. shifted per span by its stop less where it ends in
    the concatenation."""
    ends = lengths.cumsum()  # array methods: np.cumsum's wrapper costs as much as the sum
    if not len(ends) or ends[-1] == 0:
        return np.zeros(0, dtype=np.int64)
    at: np.ndarray = np.arange(ends[-1], dtype=np.int64) + (stops - ends).repeat(lengths)
    return at


class Forward:
    """Append-only term lists of rows 0..len-1 (int32 term ids, uint16 counts)."""

    def __init__(self) -> None:
        self._indptr = np.zeros(1, dtype=np.int64)
        self._terms = np.zeros(0, dtype=np.int32)
        self._tf = np.zeros(0, dtype=np.uint16)
        self.rows = 0

    @classmethod
    def of(cls, indptr: np.ndarray, terms: np.ndarray, tf: np.ndarray) -> Forward:
        forward = cls()
        forward._indptr = indptr.astype(np.int64)
        forward._terms = terms.astype(np.int32)
        forward._tf = tf.astype(np.uint16)
        forward.rows = len(indptr) - 1
        return forward

    @property
    def indptr(self) -> np.ndarray:
        return self._indptr[: self.rows + 1]

    @property
    def terms(self) -> np.ndarray:
        return self._terms[: self._indptr[self.rows]]

    @property
    def tf(self) -> np.ndarray:
        return self._tf[: self._indptr[self.rows]]

    @property
    def nbytes(self) -> int:
        return int(self._indptr.nbytes + self._terms.nbytes + self._tf.nbytes)

    def append(self, terms: np.ndarray, tf: np.ndarray) -> int:
        """Add one row; its number."""
        start = int(self._indptr[self.rows])
        stop = start + len(terms)
        self._terms = _grow(self._terms, stop)
        self._tf = _grow(self._tf, stop)
        self._indptr = _grow(self._indptr, self.rows + 2)
        self._terms[start:stop] = terms
        self._tf[start:stop] = tf
        self._indptr[self.rows + 1] = stop
        self.rows += 1
        return self.rows - 1

    def row(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        start, stop = int(self._indptr[row]), int(self._indptr[row + 1])
        return self._terms[start:stop], self._tf[start:stop]

    def lengths(self, rows: np.ndarray) -> np.ndarray:
        lengths: np.ndarray = self._indptr[rows + 1] - self._indptr[rows]
        return lengths

    def gather(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(terms, counts, lengths) of rows, concatenated in the order given."""
        lengths = self.lengths(rows)
        at = spans(self._indptr[rows], lengths)
        return self._terms[at], self._tf[at], lengths

    def select(self, rows: np.ndarray) -> Forward:
        """A new store holding only rows, renumbered 0.. in the order given (compaction)."""
        terms, tf, lengths = self.gather(rows)
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        return Forward.of(indptr, terms, tf)
