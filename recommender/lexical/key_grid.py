"""Each name-table row's key ids in a fixed-width grid, so the keys of a few hundred candidate
rows come in one gather and are OR-ed in one reduction: a handful of numpy calls where a walk
over the flat store's spans took 18.

Row-major, a row a 64-byte line aligned to the cache line: a request reads the grid cold, and a
candidate's keys are then one cache line, not WIDTH scattered ones (a grid of columns spread
them over 16), with the link to a longer row's next keys in that same line, not in an array of
its own. bits_of 62 -> 41 us a request at 10k (alternated with the column grid); the alignment
alone ~4 us of it (a row across two lines).

A line holds up to WIDTH keys; a row with more holds WIDTH - 1 and, in its last place, the link
to a chunk (a line of the same kind) with the next ones. Places hold key id + 1 (0: empty, < 0:
a link), so that every place reads the bits with take(mode="clip") (no bounds check: ~15% of
bits_of): an empty place and a link both clip onto the bits' first entry, which stays 0.

A pure function of the rows appended (rows are never changed, only added or dropped by a
rebuild from the flat store), so it needs no rule to stay exact.
"""

from __future__ import annotations

import numpy as np

from recommender.lexical.forward import Forward

WIDTH = 16  # a headline's keys fit: longer rows (~0.3% in the benchmark corpus) chain
LAST = WIDTH - 1  # the place of a chained line's link
LINE = 64  # bytes of a cache line: WIDTH int32 places fill one


def _lines(count: int) -> np.ndarray:
    """count empty lines, the first starting on a cache line (numpy aligns to 16 bytes)."""
    raw = np.zeros((count + 1) * WIDTH, dtype=np.int32)
    skip = -raw.ctypes.data % LINE // raw.itemsize
    lines: np.ndarray = raw[skip : skip + count * WIDTH].reshape(count, WIDTH)
    return lines


def _grown(lines: np.ndarray, count: int) -> np.ndarray:
    """lines with room for count, doubling."""
    have = len(lines)
    if count <= have:
        return lines
    bigger = _lines(max(count, 2 * have, 1024))
    bigger[:have] = lines
    return bigger


def _parts(length: int) -> list[tuple[int, int]]:
    """The (start, stop) of a row's keys on each of its lines."""
    parts = []
    start = 0
    while length - start > WIDTH:
        parts.append((start, start + LAST))
        start += LAST
    return [*parts, (start, length)]


class KeyGrid:
    """Key ids of rows 0..rows-1: line r of the grid holds row r's keys (or its first ones and
    the link to its next), chunk lines the rest of the longer rows."""

    def __init__(self) -> None:
        self._grid = _lines(0)
        self._chunks = _lines(0)
        self._bits = np.zeros(1, dtype=np.uint16)  # scratch of bits_of, by place value
        self.rows = 0
        self.chunks = 0

    @classmethod
    def of(cls, forward: Forward) -> KeyGrid:
        """The grid of every row of forward, in array steps (a compaction rebuilds it)."""
        indptr, terms, count = forward.indptr, forward.terms, forward.rows
        lengths = np.diff(indptr)
        extra = (np.maximum(lengths - WIDTH, 0) + LAST - 1) // LAST  # chunks after its line
        first = np.cumsum(extra) - extra  # each row's first chunk
        rows = np.repeat(np.arange(count), lengths)
        places = np.arange(len(terms)) - indptr[:-1].repeat(lengths)  # each key's in its row
        level = np.minimum(places // LAST, extra[rows])  # a row's last line may hold WIDTH
        column = places - level * LAST
        grid = cls()
        grid._grid = _lines(count)
        top = level == 0
        grid._grid[rows[top], column[top]] = terms[top] + 1
        grid.chunks = int(extra.sum())
        grid._chunks = _lines(grid.chunks)
        rest = ~top
        grid._chunks[first[rows[rest]] + level[rest] - 1, column[rest]] = terms[rest] + 1
        chained = extra > 0
        grid._grid[chained, LAST] = ~first[chained]  # chunk c is linked as ~c (< 0)
        # a row's chunks follow each other: each but its last links the next
        linked = np.ones(grid.chunks, dtype=bool)
        linked[(first + extra - 1)[chained]] = False
        grid._chunks[linked, LAST] = ~(np.flatnonzero(linked) + 1)
        grid.rows = count
        return grid

    @property
    def nbytes(self) -> int:
        return int(self._grid.nbytes + self._chunks.nbytes)

    def append(self, keys: np.ndarray) -> int:
        """Add one row of key ids; its number."""
        row = self.rows
        parts = _parts(len(keys))
        self._grid = _grown(self._grid, row + 1)
        self._chunks = _grown(self._chunks, self.chunks + len(parts) - 1)
        lines, at = self._grid, row
        for start, stop in parts:
            if start:  # the next keys go on a new chunk, linked from the line before
                lines[at, LAST] = ~self.chunks
                lines, at = self._chunks, self.chunks
                self.chunks += 1
            lines[at, : stop - start] = keys[start:stop] + 1
        self.rows += 1
        return row

    def bits_of(self, rows: np.ndarray, flags: dict[int, int]) -> np.ndarray:
        """Per row: the OR of flags[key] (uint16, 0 for a key not in flags) over its keys."""
        top = max(flags, default=0) + 1
        if top >= len(self._bits):
            self._bits = np.zeros(2 * top + 1024, dtype=np.uint16)
        bits = self._bits  # zero but for flags' keys while this runs (scalar writes: ~7 keys)
        for key, flag in flags.items():
            bits[key + 1] = flag
        keys = self._grid.take(rows, axis=0)
        found = _or_of(bits, keys)
        links = keys[:, LAST]
        more = (links < 0).nonzero()[0]  # of the lines just read, those that go on
        at = more  # their rows' places in found
        while len(more):
            keys = self._chunks.take(~links[more], axis=0)
            found[at] |= _or_of(bits, keys)
            links = keys[:, LAST]
            more = (links < 0).nonzero()[0]
            at = at[more]
        for key in flags:
            bits[key + 1] = 0
        return found


def _or_of(bits: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Per line of keys: the OR of their bits. Read by the lines' transpose, so the OR runs
    over WIDTH whole arrays, not over each short line (a reduction along a line costs an inner
    loop a line): ~4 us less for ~200 lines, in a request."""
    found: np.ndarray = np.bitwise_or.reduce(bits.take(keys.T, mode="clip"), axis=0)
    return found
