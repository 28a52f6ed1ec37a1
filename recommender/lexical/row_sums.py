"""Per-row sums of a query's postings (parts of BM25 scores) with scratch arrays over the rows
of the index, so a query costs O(its postings), never a pass over every article."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class RowSums:
    """A scratch array over the rows of one index (what it holds between calls is never read)."""

    def __init__(self) -> None:
        self._last = np.zeros(0, dtype=np.int64)

    def accumulate(
        self, rows: np.ndarray, values: np.ndarray, alive: np.ndarray | None, size: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Sum values per row (rows < size), live rows only (alive None: no row is dead):
        (rows ascending, sums), by a scratch array, a sort of the distinct rows and one
        bincount, which adds each row's values in their order (np.add.at into a scratch array
        did the same, slower per value: ~10 us less at 100k articles). Each posting's bin by a
        search of the sorted rows (one call, not a second scratch array's three)."""
        if len(self._last) < size:
            self._last = np.zeros(2 * size + 1024, dtype=np.int64)
        order = np.arange(len(rows))
        self._last[rows] = order  # the last posting of each row stands for it
        unique = rows[self._last[rows] == order]
        unique.sort()  # a copy already: sorted in place
        sums = np.bincount(unique.searchsorted(rows), values, minlength=len(unique))
        if alive is None:
            return unique, sums
        live = alive[unique]
        return unique[live], sums[live]


@dataclass(frozen=True, slots=True)
class RowScores:
    """A query's scores (RowSums.accumulate's live rows ascending, and sums), read at any rows
    by one search: a request reads its query's scores twice, at the listed rows and at the
    candidates. A search past the last row is clipped back onto it (take, mode="clip"), which
    the row test then rejects: no sentinel row, so no copy of both arrays per query (~3 us)."""

    rows: np.ndarray  # int64, ascending
    sums: np.ndarray

    def at(self, rows: np.ndarray) -> np.ndarray:
        """The score of each of rows (the same floats as accumulate's): 0 for a row the query
        does not reach, a dead row and -1 (an unknown article)."""
        if not len(self.rows):
            return np.zeros(len(rows))
        found = self.rows.searchsorted(rows)
        out: np.ndarray = self.sums.take(found, mode="clip")
        out[self.rows.take(found, mode="clip") != rows] = 0.0
        return out


def relative(scores: np.ndarray, top: float) -> np.ndarray:
    """Scores divided by the best other article's, capped at 1 (all 0 when nothing scores)."""
    out: np.ndarray = np.minimum(scores / top, 1.0) if top > 0 else np.zeros_like(scores)
    return out
