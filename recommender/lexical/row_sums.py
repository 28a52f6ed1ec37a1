"""Per-row sums of a query's postings (parts of BM25 scores) with scratch arrays over the rows
of the index, so a query costs O(its postings), never a pass over every article."""

from __future__ import annotations

import numpy as np


class RowSums:
    """Scratch arrays of one index (all zero, resp. -1, between calls)."""

    def __init__(self) -> None:
        self._sum = np.zeros(0)
        self._last = np.zeros(0, dtype=np.int64)
        self._slots = np.zeros(0, dtype=np.int32)

    def accumulate(
        self, rows: np.ndarray, values: np.ndarray, alive: np.ndarray, size: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Sum values per row (rows < size), live rows only: (rows ascending, sums), by two
        scratch arrays and a sort of the distinct rows."""
        if len(self._sum) < size:
            self._sum = np.zeros(2 * size + 1024)
            self._last = np.zeros(2 * size + 1024, dtype=np.int64)
        np.add.at(self._sum, rows, values)
        order = np.arange(len(rows))
        self._last[rows] = order  # the last posting of each row stands for it
        unique = np.sort(rows[self._last[rows] == order])
        sums = self._sum[unique]
        self._sum[unique] = 0.0
        live = alive[unique]
        return unique[live], sums[live]

    def of_rows(
        self,
        postings: tuple[np.ndarray, np.ndarray],
        rows: np.ndarray,
        alive: np.ndarray,
        size: int,
    ) -> np.ndarray:
        """Each of rows' sum of postings (posting rows, values): 0 for dead rows and rows
        without a posting. The postings are added up in their order, as accumulate adds them,
        so the same floats; a scratch array over the rows (all -1 again after) finds the
        postings of rows asked for without a search."""
        posting_rows, values = postings
        if len(self._slots) < size:
            self._slots = np.full(2 * size + 1024, -1, dtype=np.int32)
        self._slots[rows] = np.arange(len(rows), dtype=np.int32)
        slot_of = self._slots[rows]  # a row asked for twice: both get the last slot
        at = self._slots[posting_rows]
        self._slots[rows] = -1
        hit = at >= 0
        sums = np.bincount(at[hit], values[hit], minlength=len(rows))
        out: np.ndarray = sums[slot_of]
        out[~alive[rows]] = 0.0
        return out


def relative(scores: np.ndarray, top: float) -> np.ndarray:
    """Scores divided by the best other article's, capped at 1 (all 0 when nothing scores)."""
    out: np.ndarray = np.minimum(scores / top, 1.0) if top > 0 else np.zeros_like(scores)
    return out
