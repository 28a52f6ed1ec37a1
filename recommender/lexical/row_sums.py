"""Per-row sums of a query's postings (parts of BM25 scores) with scratch arrays over the rows
of the index, so a query costs O(its postings), never a pass over every article."""

from __future__ import annotations

import numpy as np


class RowSums:
    """A scratch array over the rows of one index (what it holds between calls is never read)."""

    def __init__(self) -> None:
        self._last = np.zeros(0, dtype=np.int64)

    def accumulate(
        self, rows: np.ndarray, values: np.ndarray, size: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Sum values per row (rows < size): (rows ascending, sums), by a scratch array, a sort
        of the distinct rows and one bincount, which adds each row's values in their order
        (np.add.at into a scratch array did the same, slower per value: ~10 us less at 100k
        articles). Each posting's bin by a search of the sorted rows (one call, not a second
        scratch array's three)."""
        if len(self._last) < size:
            self._last = np.zeros(2 * size + 1024, dtype=np.int64)
        order = np.arange(len(rows))
        self._last[rows] = order  # the last posting of each row stands for it
        unique = rows[self._last[rows] == order]
        unique.sort()  # a copy already: sorted in place
        return unique, np.bincount(unique.searchsorted(rows), values, minlength=len(unique))


class ChosenSums:
    """Per-row sums of a query's postings at chosen rows only: the same floats as
    RowSums.accumulate's (one bincount, each row's values added in their order from 0.0),
    without its sort of every row the query reaches and the search of the chosen rows in them
    (a Lees-ook request reads ~260 of them). A scratch array over the rows maps each chosen
    row to its bin, 0 for every other row (what it holds between calls is all 0)."""

    def __init__(self) -> None:
        self._bin = np.zeros(0, dtype=np.int64)
        # the bins 1, 2, ... as a slice, not an arange per call (~1.5 us); int64 as the
        # scratch: an int32 scratch costs a cast here and at the gathers more than it saves
        self._numbers = np.zeros(0, dtype=np.int64)

    def at(self, rows: np.ndarray, values: np.ndarray, chosen: np.ndarray, size: int) -> np.ndarray:
        """The sum of values (postings on rows < size) at each of chosen: 0 for a row no
        posting is on and for -1 (an unknown article: the scratch's last cell, which no row
        reaches). A row chosen twice reads one bin (the last written) twice."""
        if len(self._bin) <= size:
            self._bin = np.zeros(2 * size + 1024, dtype=np.int64)
        if len(self._numbers) <= len(chosen):
            self._numbers = np.arange(2 * len(chosen) + 1024)
        bins = self._bin
        bins[chosen] = self._numbers[1 : len(chosen) + 1]
        sums = np.bincount(bins.take(rows), values, minlength=len(chosen) + 1)
        out: np.ndarray = sums.take(bins.take(chosen))
        bins[chosen] = 0
        return out


def relative(scores: np.ndarray, top: float) -> np.ndarray:
    """Scores divided by the best other article's, capped at 1 (all 0 when nothing scores)."""
    out: np.ndarray = np.minimum(scores / top, 1.0) if top > 0 else np.zeros_like(scores)
    return out
