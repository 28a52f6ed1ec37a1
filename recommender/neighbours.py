"""Precomputed vector neighbour lists: each index row's top-M rows by cosine, kept exact under
publish, so a Lees-ook request reads its candidates instead of searching the index.

Invariant of every list (what makes reading it exact): it is sorted best first, and every row
whose similarity to the list's owner is above the list's `floor` is in it. New rows enter every
list whose floor they beat (`insert`); a full list drops its last entry and raises its floor to
that entry's score. Removed and replaced articles leave dead rows behind (the index tombstones
them), which readers skip. A list with fewer live entries than a reader needs and a finite floor
is incomplete: the reader searches live instead, and the next build refills it.

Pure numpy: the vector index (recommender.index) computes the similarities and owns the lists.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recommender.fsutil import fsync_path

NEIGHBOURS_FILE = "neighbours.npz"
NO_ROW = -1
# rows per step of a publish's product taken off the service lock: at 1M rows a step holds the
# lock for ~2% of the whole product (a few ms), so requests wait at most that long
PREPARE_ROWS = 16_384


@dataclass(frozen=True)
class Prepared:
    """New vectors' cosines to the rows of one index as they stood before a publish, taken
    before the service lock (see prepare): sims[r, j] for rows r < len(sims)."""

    owner: object  # the index they were taken on: another index cannot use them
    vectors: np.ndarray
    sims: np.ndarray


def prepare(
    owner: object, stored: Callable[[], np.ndarray], vectors: np.ndarray, lock: Any
) -> Prepared:
    """The product of vectors with every stored row, the one O(rows) step of entering them
    into the lists, in steps of PREPARE_ROWS rows each taken under lock (a writer may add rows
    and move the storage between steps: the view is taken anew each time), so readers never
    wait for the whole of it. Rows added meanwhile are left to the upsert."""
    guard: AbstractContextManager[Any] = lock
    with guard:
        total = len(stored())
    sims = np.empty((total, len(vectors)), dtype=np.float32)
    for lo in range(0, total, PREPARE_ROWS):
        with guard:
            sims[lo : lo + PREPARE_ROWS] = stored()[lo : lo + PREPARE_ROWS] @ vectors.T
    return Prepared(owner, vectors, sims)


class NeighbourLists:
    """rows[r]: the neighbour rows of index row r (NO_ROW padding), sims[r] their cosines
    (float32, as faiss returns them), floor[r]: the completeness bound of the list."""

    def __init__(self, depth: int, capacity: int = 0) -> None:
        self.depth = depth
        self.rows = np.full((capacity, depth), NO_ROW, dtype=np.int32)
        self.sims = np.full((capacity, depth), -np.inf, dtype=np.float32)
        self.floor = np.full(capacity, -np.inf, dtype=np.float32)
        self.known = np.zeros(capacity, dtype=bool)  # whether row r has a list at all

    @property
    def nbytes(self) -> int:
        return int(self.rows.nbytes + self.sims.nbytes + self.floor.nbytes + self.known.nbytes)

    def reserve(self, capacity: int) -> None:
        """Room for rows up to capacity (grown by an eighth, so appends stay amortised O(1))."""
        have = len(self.floor)
        if capacity <= have:
            return
        size = max(capacity, have + have // 8, 1024)  # 1/8: at 1M rows a doubling is 1 GB
        rows = np.full((size, self.depth), NO_ROW, dtype=np.int32)
        sims = np.full((size, self.depth), -np.inf, dtype=np.float32)
        floor = np.full(size, -np.inf, dtype=np.float32)
        known = np.zeros(size, dtype=bool)
        rows[:have], sims[:have], floor[:have], known[:have] = (
            self.rows,
            self.sims,
            self.floor,
            self.known,
        )
        self.rows, self.sims, self.floor, self.known = rows, sims, floor, known

    def set_list(self, row: int, rows: np.ndarray, sims: np.ndarray, complete: bool) -> None:
        """The list of row: its top rows best first (at most depth). complete: no other row
        exists beyond them (fewer rows than depth in the index), so the floor is -inf."""
        self.reserve(row + 1)
        count = min(len(rows), self.depth)
        self.rows[row] = NO_ROW
        self.sims[row] = -np.inf
        self.rows[row, :count] = rows[:count]
        self.sims[row, :count] = sims[:count]
        full = count == self.depth and not complete
        self.floor[row] = self.sims[row, count - 1] if full and count else -np.inf
        self.known[row] = True

    def insert(self, new_row: int, sims: np.ndarray, skip: np.ndarray) -> None:
        """Enter new_row into every list it belongs in. sims[r]: its cosine to row r, for every
        row; skip[r]: lists not to touch (dead rows, and lists computed with new_row in them)."""
        count = min(len(sims), len(self.floor))
        beats = (sims[:count] > self.floor[:count]) & self.known[:count] & ~skip[:count]
        for owner in np.flatnonzero(beats).tolist():
            score = sims[owner]
            listed = self.sims[owner]
            at = int(np.count_nonzero(listed >= score))
            if at >= self.depth:
                # no room below the listed scores: the floor now stands for new_row (without
                # this, a list that was complete would vouch for itself with new_row missing)
                self.floor[owner] = max(self.floor[owner], score)
                continue
            if listed[-1] > -np.inf:
                # a full list drops its last entry: nothing at or below that score is known now
                self.floor[owner] = max(self.floor[owner], listed[-1])
            self.rows[owner, at + 1 :] = self.rows[owner, at:-1]
            self.sims[owner, at + 1 :] = listed[at:-1].copy()
            self.rows[owner, at] = new_row
            self.sims[owner, at] = score

    def enter(
        self,
        start: int,
        vectors: np.ndarray,
        stored: np.ndarray,
        dead: np.ndarray,
        live: int,
        known: np.ndarray | None = None,
    ) -> None:
        """Rows start.. (vectors) were just added to an index whose every row's vector is
        stored (dead: tombstoned rows; live: how many are not): give each new row its exact
        list by one product against stored, and enter it into every older list it beats.
        known: that product for the first len(known) rows, when prepared before the lock."""
        total = len(stored)
        self.reserve(total)
        skip = dead.copy()
        skip[start:] = True  # the new rows' own lists are computed with one another in them
        complete = live <= self.depth
        done = 0 if known is None else len(known)
        for lo in range(0, len(vectors), 16):
            block = np.empty((total, len(vectors[lo : lo + 16])), dtype=np.float32)
            if known is not None:
                block[:done] = known[:, lo : lo + 16]
            block[done:] = stored[done:] @ vectors[lo : lo + 16].T  # rows x new, like faiss
            block[dead] = -np.inf
            for j in range(block.shape[1]):
                sims = block[:, j]
                top = (
                    np.argpartition(-sims, self.depth - 1)[: self.depth]
                    if total > self.depth
                    else np.arange(total)
                )
                top = top[np.argsort(-sims[top], kind="stable")]
                top = top[sims[top] > -np.inf]
                self.set_list(start + lo + j, top, sims[top], complete)
                self.insert(start + lo + j, sims, skip)

    def live(self, row: int, k: int, alive: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The first k live entries of row's list as (cosines float64, rows); None when the
        list is unknown or cannot vouch for k live rows (the caller searches live). alive[r]:
        row r is live, with alive[-1] False (NO_ROW padding reads it: no entry there)."""
        if row >= len(self.known) or not self.known[row] or k > self.depth:
            return None
        rows = self.rows[row]
        live = alive[rows]
        # the usual case, no dead row among the first k: slices, no gather
        if np.logical_and.reduce(live[:k]):
            return self.sims[row, :k].astype(np.float64), rows[:k].astype(np.int64)
        picked = np.flatnonzero(live)[:k]
        if len(picked) < k and self.floor[row] > -np.inf:
            return None
        return self.sims[row, picked].astype(np.float64), rows[picked].astype(np.int64)

    def fill(
        self,
        search: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
        alive: np.ndarray,
        batch: int,
    ) -> None:
        """Every live row's list from search(rows) -> (cosines, rows) of those rows' nearest,
        batch rows at a time. alive[r]: row r is live, with alive[-1] False (faiss's -1)."""
        live_rows = np.flatnonzero(alive[:-1])
        complete = len(live_rows) <= self.depth
        self.reserve(len(alive) - 1)
        for lo in range(0, len(live_rows), batch):
            chunk = live_rows[lo : lo + batch]
            scores, found = search(chunk)
            for row, sims, rows in zip(chunk.tolist(), scores, found, strict=True):
                keep = alive[rows]
                self.set_list(row, rows[keep], sims[keep], complete)

    def renumbered(self, new_of_old: np.ndarray) -> NeighbourLists:
        """These lists after a compaction: row r becomes new_of_old[r] (-1: dropped); dead
        entries go, floors stay (what lay beyond them is still unknown)."""
        kept = np.flatnonzero(new_of_old[: len(self.floor)] >= 0)
        fresh = NeighbourLists(self.depth, int(new_of_old.max(initial=-1)) + 1)
        mapped = np.where(self.rows[kept] >= 0, new_of_old[np.maximum(self.rows[kept], 0)], -1)
        for old, entries, sims in zip(kept.tolist(), mapped, self.sims[kept], strict=True):
            new = int(new_of_old[old])
            alive = entries >= 0
            count = int(alive.sum())
            fresh.rows[new, :count] = entries[alive]
            fresh.sims[new, :count] = sims[alive]
            fresh.floor[new] = self.floor[old]
            fresh.known[new] = self.known[old]
        return fresh

    # persistence ------------------------------------------------------------------------------

    def save(self, folder: Path, total_rows: int) -> None:
        path = folder / NEIGHBOURS_FILE
        with path.open("wb") as fh:
            np.savez(
                fh,
                rows=self.rows[:total_rows],
                sims=self.sims[:total_rows],
                floor=self.floor[:total_rows],
                known=self.known[:total_rows],
            )
        fsync_path(path)

    @classmethod
    def load(cls, folder: Path, total_rows: int, depth: int) -> NeighbourLists | None:
        """The saved lists; None when there are none, they were kept at another depth or do not
        match the index (the caller recomputes them)."""
        path = folder / NEIGHBOURS_FILE
        if not path.is_file():
            return None
        try:
            with np.load(path) as saved:
                rows, sims = saved["rows"], saved["sims"]
                floor, known = saved["floor"], saved["known"]
        except (OSError, ValueError, KeyError):
            return None
        if rows.ndim != 2 or rows.shape != (total_rows, depth) or sims.shape != rows.shape:
            return None
        lists = cls(depth)
        lists.rows = rows.astype(np.int32)
        lists.sims = sims.astype(np.float32)
        lists.floor = floor.astype(np.float32)
        lists.known = known.astype(bool)
        return lists
