"""A fixed-size table of recently seen 64-bit keys: each key's latest time and a row of its own
(where a caller keeps more per key, in arrays of `limit` rows beside the table).

Why not a dict: under a stream of ever new keys (rotating sessions) a dict of Python objects
costs ~100 bytes per key and the process's memory climbs until the cap is reached, which at
the default caps is most of a day's traffic. Here every array is allocated (and written) once,
at the cap, so memory is the same after the first event as after the millionth.

Open addressing with linear probing over a power-of-two table at most half full. Keys are never
deleted one by one: when `limit` keys are held, one sweep keeps those seen within `ttl` seconds,
at most `keep` of the limit, the most recent first, and rebuilds the probe chains vectorised.
A sweep moves keys between positions, so a position from `find` is only good until the next
`insert`; rows never move."""

from __future__ import annotations

import ctypes
import ctypes.util
from array import array

import numpy as np

EMPTY = 0  # no key: a key that hashes to 0 is stored as 1 (one more collision in 2^64)


def _storable(key: int) -> int:
    return key or 1


def _libc_trim() -> ctypes._NamedFuncPointer | None:
    """glibc's malloc_trim, where there is one. A sweep's temporary arrays are freed into
    the C heap, which keeps them resident; without giving them back, each first sweep of a
    table left the process ~10-25 MB larger for good."""
    name = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    except OSError:
        return None


_TRIM = _libc_trim()


def give_back_memory() -> None:
    """Return the C heap's free pages to the OS (glibc; elsewhere nothing). For after work
    that allocates large temporaries: sweeps here, snapshots."""
    if _TRIM is not None:
        _TRIM(0)


class RecentKeys:
    def __init__(self, limit: int, ttl: float, keep: float = 0.5, rows: bool = True) -> None:
        """rows=False: keys and times only (no per-key data beside the table)."""
        self.limit = limit
        self.ttl = ttl
        self._keep = max(1, int(limit * keep))
        size = 1 << max(4, (2 * limit - 1).bit_length())
        self._mask = size - 1
        # array('Q'/'d'/'l') for fast scalar access from Python; numpy views for the sweeps
        self._keys = array("Q", bytes(8 * size))
        self._times = array("d", bytes(8 * size))
        self._rows = array("q", bytes(8 * size if rows else 0))
        # rows not in use, a stack: the top is at _free_top - 1 (row 0 is handed out first)
        self._free = array("q", range(limit - 1, -1, -1) if rows else ())
        self._free_top = len(self._free)
        self._count = 0
        self.sweeps = 0

    def __len__(self) -> int:
        return self._count

    def find(self, key: int) -> int:
        """The key's position, or -1."""
        key = _storable(key)
        keys, mask = self._keys, self._mask
        at = key & mask
        while True:
            held = keys[at]
            if held == key:
                return at
            if held == EMPTY:
                return -1
            at = (at + 1) & mask

    def time_at(self, position: int) -> float:
        return self._times[position]

    def row_at(self, position: int) -> int:
        return self._rows[position]

    def touch(self, position: int, ts: float) -> None:
        self._times[position] = ts

    def insert(self, key: int, ts: float) -> int:
        """Add a key that `find` did not find; returns its row (fresh: the caller clears it)."""
        if self._count >= self.limit:
            self.sweep(ts)
        key = _storable(key)
        keys, mask = self._keys, self._mask
        at = key & mask
        while keys[at] != EMPTY:
            at = (at + 1) & mask
        keys[at], self._times[at] = key, ts
        self._count += 1
        if not self._free:
            return -1
        self._free_top -= 1
        row = self._rows[at] = self._free[self._free_top]
        return row

    def sweep(self, now: float) -> None:
        """Forget keys older than ttl and, when more are recent than `keep` allows, the oldest
        of those too; the rest are placed again (vectorised: one pass per probe step)."""
        keys, times, rows = self._views()
        held = np.flatnonzero(keys != EMPTY)
        kept = held[times[held] >= now - self.ttl]
        if len(kept) > self._keep:
            kept = kept[np.argpartition(times[kept], len(kept) - self._keep)[-self._keep :]]
        kept_keys, kept_times, kept_rows = keys[kept], times[kept], rows[kept]
        keys[:] = EMPTY
        self._place(kept_keys, kept_times, kept_rows)
        self._count = len(kept)
        self._free_rows(kept_rows)
        self.sweeps += 1
        del keys, times, rows, held, kept, kept_keys, kept_times, kept_rows
        give_back_memory()

    def _place(self, new_keys: np.ndarray, new_times: np.ndarray, new_rows: np.ndarray) -> None:
        """Linear probing for many keys at once into empty positions: each round, the first key
        aiming at a free position takes it, the others step on. No position a key passed over
        is ever emptied again, so `find` reaches every key from its home."""
        keys, times, rows = self._views()
        mask = np.uint64(self._mask)
        pending = np.arange(len(new_keys))
        aim = (new_keys & mask).astype(np.int64)
        while len(pending):
            free = keys[aim] == EMPTY
            _, first = np.unique(aim[free], return_index=True)
            winners = np.flatnonzero(free)[first]
            at = aim[winners]
            chosen = pending[winners]
            keys[at], times[at] = new_keys[chosen], new_times[chosen]
            if self._rows:
                rows[at] = new_rows[chosen]
            losing = np.ones(len(pending), dtype=bool)
            losing[winners] = False
            pending = pending[losing]
            aim = (aim[losing] + 1) & self._mask

    def _views(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        keys = np.frombuffer(self._keys, dtype=np.uint64)
        times = np.frombuffer(self._times, dtype=np.float64)
        rows = (
            np.frombuffer(self._rows, dtype=np.int64)
            if self._rows
            else np.zeros(len(keys), np.int64)
        )
        return keys, times, rows.astype(np.int64, copy=False)

    def _free_rows(self, kept_rows: np.ndarray) -> None:
        """Every row not kept goes back on the stack, the lowest on top."""
        if not self._free:
            return
        used = np.zeros(self.limit, dtype=bool)
        used[kept_rows] = True
        free = np.flatnonzero(~used)[::-1]
        np.frombuffer(self._free, dtype=np.int64)[: len(free)] = free
        self._free_top = len(free)

    # snapshots: the held keys with their times and rows, as arrays ------------------------------

    def state(self) -> dict[str, np.ndarray]:
        keys, times, rows = self._views()
        held = np.flatnonzero(keys != EMPTY)
        return {"keys": keys[held].copy(), "times": times[held].copy(), "rows": rows[held].copy()}

    def restore(self, state: dict[str, np.ndarray]) -> None:
        """Into an empty table of the same limit (rows are kept as they were)."""
        keys, _, _ = self._views()
        keys[:] = EMPTY
        held_rows = state["rows"].astype(np.int64)
        self._place(state["keys"].astype(np.uint64), state["times"].astype(np.float64), held_rows)
        self._count = len(held_rows)
        self._free_rows(held_rows)
