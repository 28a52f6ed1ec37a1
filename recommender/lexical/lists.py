"""Precomputed lexical neighbour lists: for each row of the lexical index, the rows its "more like
this" query scores best (at most `depth`), so a Lees-ook request reads them instead of walking
postings lists.

A list holds rows, not final scores: BM25 scores move with the corpus (IDF, average length), so
readers score the listed rows again with today's statistics. What a list can get wrong is only
who is in it, and that is bounded by how much the corpus changed since it was computed (its
`stamp`; see recommender.lexical.listed for the refresh rule). Each list keeps:
- `floor`: the score of the best row left out when it was computed (0: nothing was left out, the
  list holds every row sharing a term with the query). A new row scoring above it enters;
- `queries`: the query terms it was computed with, so a new article finds, by its own terms, the
  lists it may belong in (`owners`, a term-major copy plus what was added since).

Pure numpy: recommender.lexical.listed computes the scores and owns the lists.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from recommender.fsutil import fsync_path
from recommender.lexical.forward import spans

LISTS_FILE = "lexical_lists.npz"
NO_ROW = -1


class LexicalLists:
    """rows[r]: the neighbour rows of row r best first (NO_ROW padding), raw[r] their scores
    when listed; floor[r], known[r] (r has a list), stamp[r] (the corpus change count then) and
    queries[r] (its query terms, NO_ROW padding)."""

    def __init__(self, depth: int, query_terms: int, capacity: int = 0) -> None:
        self.depth = depth
        self.rows = np.full((capacity, depth), NO_ROW, dtype=np.int32)
        self.raw = np.zeros((capacity, depth), dtype=np.float32)
        self.floor = np.zeros(capacity, dtype=np.float32)
        self.known = np.zeros(capacity, dtype=bool)
        self.stamp = np.zeros(capacity, dtype=np.int64)
        self.queries = np.full((capacity, query_terms), NO_ROW, dtype=np.int32)
        self._owner_ptr = np.zeros(1, dtype=np.int64)  # term-major owners, as of reindex()
        self._owners = np.zeros(0, dtype=np.int32)
        self._new_owners: dict[int, list[int]] = {}  # term → rows listed since reindex()
        self._new_count = 0

    @property
    def nbytes(self) -> int:
        arrays = (self.rows, self.raw, self.floor, self.known, self.stamp, self.queries)
        return int(sum(a.nbytes for a in arrays) + self._owners.nbytes + self._owner_ptr.nbytes)

    def reserve(self, capacity: int) -> None:
        """Room for rows up to capacity (grown by an eighth, so appends stay amortised)."""
        have = len(self.floor)
        if capacity <= have:
            return
        size = max(capacity, have + have // 8, 1024)
        for name, fill in (("rows", NO_ROW), ("raw", 0), ("floor", 0), ("known", False),
                           ("stamp", 0), ("queries", NO_ROW)):  # fmt: skip
            old = getattr(self, name)
            new = np.full((size, *old.shape[1:]), fill, dtype=old.dtype)
            new[:have] = old
            setattr(self, name, new)

    def set_list(
        self,
        row: int,
        rows: np.ndarray,
        raw: np.ndarray,
        floor: float,
        stamp: int,
        query: np.ndarray,
        track: bool = True,
    ) -> None:
        """The list of row: rows best first (at most depth) with their scores, the best score
        left out (floor), the corpus change count and the query terms it was computed with.
        track: add row to the owners of those terms now (not needed before a reindex)."""
        self.reserve(row + 1)
        count = min(len(rows), self.depth)
        self.rows[row] = NO_ROW
        self.raw[row] = 0.0
        self.rows[row, :count] = rows[:count]
        self.raw[row, :count] = raw[:count]
        self.floor[row] = floor
        self.known[row] = True
        self.stamp[row] = stamp
        width = min(len(query), self.queries.shape[1])
        self.queries[row] = NO_ROW
        self.queries[row, :width] = query[:width]
        if not track:
            return
        for term in query[:width].tolist():
            self._new_owners.setdefault(term, []).append(row)
        self._new_count += width

    def entries(self, row: int) -> np.ndarray:
        """The rows listed for row (dead ones included: readers skip them)."""
        listed = self.rows[row]
        found: np.ndarray = listed[listed != NO_ROW]
        return found

    def owners(self, terms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows, i): row's list was computed with terms[i] in its query, for every such pair;
        a superset (a list computed again since may have dropped the term, and then counts
        twice for a term it kept)."""
        known = np.flatnonzero(terms + 1 < len(self._owner_ptr))
        starts = self._owner_ptr[terms[known]]
        lengths = self._owner_ptr[terms[known] + 1] - starts
        rows = [self._owners[spans(starts, lengths)]]
        which = [np.repeat(known, lengths)]
        for i, term in enumerate(terms.tolist()):
            added = self._new_owners.get(term)
            if added:
                rows.append(np.asarray(added, np.int32))
                which.append(np.full(len(added), i))
        return np.concatenate(rows), np.concatenate(which)

    def maybe_reindex(self, n_terms: int) -> None:
        """Fold the owners added since the last reindex in once they are a quarter as many."""
        if self._new_count > max(10_000, len(self._owners) // 4):
            self.reindex(n_terms)

    def insert(self, owners: np.ndarray, new_row: int, scores: np.ndarray) -> None:
        """Enter new_row into the list of each owner whose floor its score (scores[i] for
        owners[i]) beats, in score order; a full list drops its last row and raises its floor."""
        beats = (scores > self.floor[owners]) & self.known[owners]
        # a list computed after new_row arrived (a batch's) holds it already
        beats &= ~(self.rows[owners] == new_row).any(axis=1)
        for owner, score in zip(owners[beats].tolist(), scores[beats].tolist(), strict=True):
            listed = self.raw[owner]
            filled = int(np.count_nonzero(self.rows[owner] != NO_ROW))
            at = int(np.count_nonzero(listed[:filled] >= score))
            if at >= self.depth:
                self.floor[owner] = max(float(self.floor[owner]), score)
                continue
            if filled == self.depth:  # the last row leaves: nothing above it is left out
                self.floor[owner] = max(float(self.floor[owner]), float(listed[-1]))
            self.rows[owner, at + 1 :] = self.rows[owner, at:-1].copy()
            self.raw[owner, at + 1 :] = listed[at:-1].copy()
            self.rows[owner, at] = new_row
            self.raw[owner, at] = score

    def reindex(self, n_terms: int) -> None:
        """Rebuild the term-major owners from the query terms of every list."""
        count = len(self.floor)
        owners = np.repeat(np.arange(count, dtype=np.int32), self.queries.shape[1])
        terms = self.queries.reshape(-1).astype(np.int64)
        keep = (terms >= 0) & np.repeat(self.known, self.queries.shape[1])
        terms, owners = terms[keep], owners[keep]
        order = np.argsort(terms, kind="stable")
        self._owners = owners[order]
        self._owner_ptr = np.zeros(n_terms + 1, dtype=np.int64)
        np.cumsum(np.bincount(terms, minlength=n_terms), out=self._owner_ptr[1:])
        self._new_owners = {}
        self._new_count = 0

    def renumbered(self, new_of_old: np.ndarray, n_terms: int) -> LexicalLists:
        """These lists after the index renumbered its rows (new_of_old[r], -1: dropped): dead
        entries go (their places stay empty), floors and stamps stay."""
        kept = np.flatnonzero(new_of_old[: len(self.floor)] >= 0)
        fresh = LexicalLists(self.depth, self.queries.shape[1], int(new_of_old.max(initial=-1)) + 1)
        target = new_of_old[kept]
        entries = self.rows[kept]
        mapped = np.where(entries >= 0, new_of_old[np.maximum(entries, 0)], NO_ROW)
        # survivors move to the front of each list, in their order
        order = np.argsort(mapped < 0, axis=1, kind="stable")
        fresh.rows[target] = np.take_along_axis(mapped, order, axis=1)
        raw = np.take_along_axis(self.raw[kept], order, axis=1)
        fresh.raw[target] = np.where(fresh.rows[target] >= 0, raw, 0.0)
        for name in ("floor", "known", "stamp", "queries"):
            getattr(fresh, name)[target] = getattr(self, name)[kept]
        fresh.reindex(n_terms)
        return fresh

    # persistence ------------------------------------------------------------------------------

    def save(self, folder: Path, total_rows: int, changes: int) -> None:
        """Saved with each list's age (changes since it was computed), not its stamp: the
        change count starts again at 0 when the index is loaded."""
        path = folder / LISTS_FILE
        with path.open("wb") as fh:
            np.savez(
                fh,
                rows=self.rows[:total_rows],
                raw=self.raw[:total_rows],
                floor=self.floor[:total_rows],
                known=self.known[:total_rows],
                age=changes - self.stamp[:total_rows],
                queries=self.queries[:total_rows],
            )
        fsync_path(path)

    @classmethod
    def load(
        cls, folder: Path, total_rows: int, depth: int, query_terms: int, n_terms: int
    ) -> LexicalLists | None:
        """The saved lists; None when there are none, or they were kept at another depth or do
        not match the index (the caller computes them again)."""
        path = folder / LISTS_FILE
        if not path.is_file():
            return None
        try:
            with np.load(path) as saved:
                arrays = {k: saved[k] for k in ("rows", "raw", "floor", "known", "age", "queries")}
        except (OSError, ValueError, KeyError):
            return None
        if arrays["rows"].shape != (total_rows, depth) or arrays["queries"].shape != (
            total_rows,
            query_terms,
        ):
            return None
        lists = cls(depth, query_terms)
        lists.rows = arrays["rows"].astype(np.int32)
        lists.raw = arrays["raw"].astype(np.float32)
        lists.floor = arrays["floor"].astype(np.float32)
        lists.known = arrays["known"].astype(bool)
        lists.stamp = -arrays["age"].astype(np.int64)
        lists.queries = arrays["queries"].astype(np.int32)
        lists.reindex(n_terms)
        return lists
