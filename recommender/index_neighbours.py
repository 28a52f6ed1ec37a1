"""The precomputed neighbour lists of a VectorIndex (recommender.neighbours holds the lists and
their invariant): keeping them, reading an article's candidates from them (and the rows of
those joined to them by id), and entering new rows into them on publish, with the O(rows)
product taken before the service lock.

A mixin of VectorIndex, which owns the faiss index and the row bookkeeping it reads."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

import numpy as np

from recommender.neighbours import NeighbourLists, Prepared, prepare

NEIGHBOUR_BATCH = 2048  # rows searched per batch when neighbour lists are (re)computed


class KeptNeighbours:
    """Mixed into VectorIndex, which sets these up and keeps them consistent."""

    _index: Any
    _row_ids: list[str | None]
    _rows: dict[str, int]
    _live: np.ndarray
    neighbours: NeighbourLists | None

    @property
    def tombstones(self) -> int:
        raise NotImplementedError

    def vectors_at(self, rows: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def ids_at(self, rows: np.ndarray) -> list[str | None]:
        raise NotImplementedError

    def search_rows(self, query: np.ndarray, k: int) -> tuple[list[str], np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _stored_vectors(self) -> np.ndarray:
        raise NotImplementedError

    def _alive(self) -> np.ndarray:
        raise NotImplementedError

    def keep_neighbours(self, depth: int, lists: NeighbourLists | None = None) -> None:
        """Answer search_article from per-row top-depth lists (computed now unless given, e.g.
        loaded), kept exact by every upsert from here on; depth 0: search every time."""
        if depth <= 0:
            self.neighbours = None
            return
        if lists is None and self.neighbours is not None and self.neighbours.depth == depth:
            return  # already kept
        if lists is None or lists.depth != depth:
            lists = NeighbourLists(depth, len(self._row_ids))
            self._compute_neighbours(lists)
        self.neighbours = lists

    def search_article(self, article_id: str, k: int) -> tuple[list[str], np.ndarray, np.ndarray]:
        """search_rows() for an indexed article's own vector (unknown id: nothing)."""
        sims, rows = self.neighbour_rows(article_id, k)
        return [i for i in self.ids_at(rows) if i is not None], sims, rows

    def neighbour_rows(self, article_id: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest live rows to an indexed article's own vector, as (cosines float64,
        rows): read from its neighbour list when that can vouch for k live rows, else searched
        live. No article id is looked up: the ranker needs ids for the few rows it lists."""
        row = self._rows.get(article_id)
        if row is None:
            return np.zeros(0), np.zeros(0, dtype=np.int64)
        if self.neighbours is not None:
            listed = self.neighbours.live(row, k, self._live)
            if listed is not None:
                return listed
        _, sims, rows = self.search_rows(np.asarray(self._index.reconstruct(row)), k)
        return sims, rows

    def unmarked_rows(self, ids: Iterable[str], marked: bytearray, into: list[int]) -> None:
        """The rows of the candidates joined to those: append the live row of each id unmarked
        in marked (a byte per row; row -1 of an unknown id reads its last, kept marked) to
        into, marking it: each once, in order. Bytes, not a set of Python ints (JoinedRows)."""
        for row in map(self._rows.get, ids, itertools.repeat(-1)):
            if not marked[row]:
                marked[row] = 1
                into.append(row)

    def _compute_neighbours(self, lists: NeighbourLists) -> None:
        """Every live row's list by one batched search (threads on: a build, not a request)."""
        fetch = min(len(self._row_ids), lists.depth + self.tombstones)
        search = self._index.search
        lists.fill(
            lambda rows: search(self.vectors_at(rows), fetch), self._alive(), NEIGHBOUR_BATCH
        )

    def prepare_upsert(self, vectors: np.ndarray, lock: Any) -> Prepared | None:
        """The O(rows) part of entering vectors into the neighbour lists, for a caller to take
        before its lock (lock: the one every writer of this index holds); None: nothing to do."""
        if self.neighbours is None or not 0 < len(vectors) <= NEIGHBOUR_BATCH:
            return None
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        return prepare(self, self._stored_vectors, vectors, lock)

    def _enter_neighbours(self, start: int, vectors: np.ndarray, prepared: Prepared | None) -> None:
        """Rows start.. were just added: exact lists for them, and entered into older lists.
        A large batch (a rebuild's worth) recomputes every list by batched search instead."""
        lists = self.neighbours
        assert lists is not None
        if len(vectors) > NEIGHBOUR_BATCH:
            self._compute_neighbours(lists)
            return
        known = None
        if prepared is not None and prepared.owner is self:
            known = prepared.sims if np.array_equal(prepared.vectors, vectors) else None
        dead = ~self._alive()[:-1]
        lists.enter(start, vectors, self._stored_vectors(), dead, len(self._rows), known)
