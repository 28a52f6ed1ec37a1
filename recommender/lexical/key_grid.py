"""Each name-table row's key ids in a fixed-width grid (one column a row), so the keys of a few
hundred candidate rows come in one gather along the columns and are OR-ed in one reduction: 6
numpy calls where a walk over the flat store's spans took 18 (63 -> 15 us for 202 rows, on a
loaded machine). A row with more than WIDTH keys goes on in chunks of WIDTH
(a chain, read only for the candidates that have one).

A pure function of the rows appended (rows are never changed, only added or dropped by a
rebuild from the flat store), so it needs no rule to stay exact.
"""

from __future__ import annotations

import numpy as np

from recommender.lexical.forward import Forward

WIDTH = 16  # a headline's keys fit: longer rows (~0.3% in the benchmark corpus) chain
# an empty place: past every key id, clipped onto the bits' last entry, which callers keep 0
# (take's mode="clip" skips the bounds check: ~15% of bits_of, measured)
PAD = np.iinfo(np.int32).max
NO_CHUNK = 0  # a link to nothing; chunk c is linked as c + 1


def _grown(array: np.ndarray, size: int, fill: int) -> np.ndarray:
    """array (columns on its last axis) with room for size columns, doubling."""
    have = array.shape[-1]
    if size <= have:
        return array
    bigger = np.full((*array.shape[:-1], max(size, 2 * have, 1024)), fill, dtype=array.dtype)
    bigger[..., :have] = array
    return bigger


class KeyGrid:
    """Key ids of rows 0..rows-1: column r of the grid holds row r's first WIDTH keys, link[r]
    the chunk with its next ones (chunks chain the same way)."""

    def __init__(self) -> None:
        self._grid = np.full((WIDTH, 0), PAD, dtype=np.int32)
        self._link = np.zeros(0, dtype=np.int32)
        self._chunks = np.full((WIDTH, 0), PAD, dtype=np.int32)
        self._chunk_link = np.zeros(0, dtype=np.int32)
        self.rows = 0
        self.chunks = 0

    @classmethod
    def of(cls, forward: Forward) -> KeyGrid:
        """The grid of every row of forward, in array steps (a compaction rebuilds it)."""
        indptr, terms, count = forward.indptr, forward.terms, forward.rows
        lengths = np.diff(indptr)
        rows = np.repeat(np.arange(count), lengths)
        places = np.arange(len(terms)) - indptr[:-1].repeat(lengths)  # each key's in its row
        level, column = np.divmod(places, WIDTH)
        extra = np.maximum(lengths - 1, 0) // WIDTH  # chunks after the grid's column
        first = np.cumsum(extra) - extra  # each row's first chunk
        grid = cls()
        grid._grid = np.full((WIDTH, count), PAD, dtype=np.int32)
        top = level == 0
        grid._grid[column[top], rows[top]] = terms[top]
        grid.chunks = int(extra.sum())
        grid._chunks = np.full((WIDTH, grid.chunks), PAD, dtype=np.int32)
        rest = ~top
        grid._chunks[column[rest], first[rows[rest]] + level[rest] - 1] = terms[rest]
        grid._link = np.where(extra > 0, first + 1, NO_CHUNK).astype(np.int32)
        # a row's chunks follow each other: chunk c links c + 1 (as c + 2), but its last
        grid._chunk_link = np.arange(2, grid.chunks + 2, dtype=np.int32)
        grid._chunk_link[(first + extra - 1)[extra > 0]] = NO_CHUNK
        grid.rows = count
        return grid

    @property
    def nbytes(self) -> int:
        arrays = (self._grid, self._link, self._chunks, self._chunk_link)
        return int(sum(a.nbytes for a in arrays))

    def append(self, keys: np.ndarray) -> int:
        """Add one row of key ids; its number."""
        row = self.rows
        self._grid = _grown(self._grid, row + 1, PAD)
        self._link = _grown(self._link, row + 1, NO_CHUNK)
        self._grid[: min(len(keys), WIDTH), row] = keys[:WIDTH]
        links, at = self._link, row
        for start in range(WIDTH, len(keys), WIDTH):
            chunk = self.chunks
            self._chunks = _grown(self._chunks, chunk + 1, PAD)
            self._chunk_link = _grown(self._chunk_link, chunk + 1, NO_CHUNK)
            part = keys[start : start + WIDTH]
            self._chunks[: len(part), chunk] = part
            links[at] = chunk + 1
            links, at = self._chunk_link, chunk
            self.chunks += 1
        self.rows += 1
        return row

    def bits_of(self, rows: np.ndarray, bits: np.ndarray) -> np.ndarray:
        """Per row: the OR of bits[key] over its keys (uint16). bits[-1] (where PAD reads)
        must be 0. take, not [ ]: a fancy index of a 2-d array costs ~8 us more here."""
        keys = self._grid.take(rows, axis=1)
        found: np.ndarray = np.bitwise_or.reduce(bits.take(keys, mode="clip"), axis=0)
        link = self._link.take(rows)
        at = link.nonzero()[0]
        if not len(at):
            return found
        link = link[at]
        while len(at):
            chunks = link - 1
            keys = self._chunks.take(chunks, axis=1)
            found[at] |= np.bitwise_or.reduce(bits.take(keys, mode="clip"), axis=0)
            link = self._chunk_link.take(chunks)
            more = link.nonzero()[0]
            at, link = at[more], link[more]
        return found
