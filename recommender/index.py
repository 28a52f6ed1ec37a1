"""VectorIndex over faiss: add, remove, search, save, load. The only faiss user.

Rows are faiss's own sequential ids. A removed or replaced article leaves a tombstoned row
behind (HNSW cannot delete), which searches skip; a rebuild compacts them away.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from recommender.errors import IndexMismatch
from recommender.index_folder import INDEX_FILE, MANIFEST_FILE, ROWS_FILE, load_index, save_index
from recommender.index_neighbours import KeptNeighbours
from recommender.neighbours import NeighbourLists, Prepared

__all__ = ["INDEX_FILE", "MANIFEST_FILE", "ROWS_FILE", "VectorIndex", "choose_kind"]

log = logging.getLogger(__name__)


def choose_kind(kind: str, count: int, hnsw_threshold: int) -> str:
    if kind == "auto":
        return "hnsw" if count >= hnsw_threshold else "flat"
    return kind


class VectorIndex(KeptNeighbours):
    """Normalised vectors, inner product = cosine, keyed by article id; the precomputed
    neighbour lists are recommender.index_neighbours's (KeptNeighbours)."""

    def __init__(
        self,
        dim: int,
        model_name: str,
        kind: str = "flat",
        hnsw_m: int = 32,
        ef_search: int = 128,
        ef_construction: int = 200,
    ) -> None:
        self.dim = dim
        self.model_name = model_name
        self.kind = kind
        self.hnsw_m = hnsw_m
        self._ef_search = ef_search
        self.ef_construction = ef_construction
        index: Any
        if kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = ef_construction
            index.hnsw.efSearch = ef_search
        elif kind == "flat":
            index = faiss.IndexFlatIP(dim)
        else:
            raise ValueError(f"unknown index kind {kind!r}")
        self._index: Any = index
        self._row_ids: list[str | None] = []  # row -> article id, None when tombstoned
        self._row_hash: list[str] = []  # row -> embedding text hash, to spot stale rows
        self._rows: dict[str, int] = {}  # article id -> live row
        # row -> live, with False past the last row (so faiss's -1, "no row", reads as dead)
        self._live = np.zeros(1024, dtype=bool)
        self.manifest: dict[str, Any] = {}
        # precomputed top-M neighbours per row (keep_neighbours); None: search every request
        self.neighbours: NeighbourLists | None = None
        self.changes = 0  # bumped by upsert, remove, restore: row lookups kept before are stale
        # faiss's vector storage as a numpy view, taken once (see _vector_view); None: not yet
        self._view: np.ndarray | None = None

    @property
    def ef_search(self) -> int:
        return self._ef_search

    @ef_search.setter
    def ef_search(self, value: int) -> None:
        """HNSW breadth of search: higher is slower and closer to exact (flat ignores it)."""
        self._ef_search = value
        if self.kind == "hnsw":
            hnsw: Any = faiss.downcast_index(self._index)
            hnsw.hnsw.efSearch = value

    # contents ---------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._rows

    @property
    def tombstones(self) -> int:
        return len(self._row_ids) - len(self._rows)

    def ids(self) -> list[str]:
        return list(self._rows)

    def content_hash(self, article_id: str) -> str | None:
        row = self._rows.get(article_id)
        return None if row is None else self._row_hash[row]

    def upsert(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        hashes: Sequence[str],
        prepared: Prepared | None = None,
    ) -> None:
        """Add articles; an id already present is replaced (its old row is tombstoned).
        prepared: prepare_upsert(vectors) taken before the caller's lock."""
        if len(ids) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (len(ids), self.dim):
            raise IndexMismatch(
                f"expected vectors of shape ({len(ids)}, {self.dim}), got {vectors.shape}"
            )
        self.remove(ids)
        start = len(self._row_ids)
        self._view = None  # add() may move faiss's storage: the old view would dangle
        self._index.add(vectors)
        for offset, (article_id, content) in enumerate(zip(ids, hashes, strict=True)):
            self._row_ids.append(article_id)
            self._row_hash.append(content)
            self._rows[article_id] = start + offset
        self._mark_live(start, len(self._row_ids))
        self.changes += 1  # after the change: a reader that saw the new count sees it whole
        if self.neighbours is not None:
            self._enter_neighbours(start, vectors, prepared)

    def remove(self, ids: Sequence[str]) -> int:
        removed = 0
        for article_id in ids:
            row = self._rows.pop(article_id, None)
            if row is not None:
                self._row_ids[row] = None
                self._live[row] = False
                removed += 1
        self.changes += 1
        return removed

    def _mark_live(self, start: int, stop: int) -> None:
        if stop >= len(self._live):  # room for one more: the last entry stays False
            grown = np.zeros(max(2 * len(self._live), stop + 1), dtype=bool)
            grown[: len(self._live)] = self._live
            self._live = grown
        self._live[start:stop] = True

    def ids_at(self, rows: np.ndarray) -> list[str | None]:
        """The article id of each row (None: tombstoned), for the few rows a list shows."""
        return list(map(self._row_ids.__getitem__, rows.tolist()))

    def vector(self, article_id: str) -> np.ndarray | None:
        row = self._rows.get(article_id)
        return None if row is None else self._vector_view()[row].copy()

    def vectors(self, ids: Sequence[str]) -> np.ndarray:
        """Vectors of live ids, in order (rows of zeros for unknown ids)."""
        rows = self.rows(ids)
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        out[rows >= 0] = self.vectors_at(rows[rows >= 0])
        return out

    def rows(self, ids: Sequence[str]) -> np.ndarray:
        """The live row of each id, -1 for an id not in the index."""
        # map over the C-level dict.get: ~2x a generator expression, ~150 ids a request
        found = map(self._rows.get, ids, itertools.repeat(-1))
        return np.fromiter(found, dtype=np.int64, count=len(ids))

    def vectors_at(self, rows: np.ndarray | list[int], out: np.ndarray | None = None) -> np.ndarray:
        """Vectors of live rows, in order; into out when given (no concatenation after)."""
        if len(rows) == 0:
            return np.zeros((0, self.dim), dtype=np.float32) if out is None else out
        if out is None:  # take: ~2x a fancy index
            return self._vector_view().take(rows, axis=0)
        # "clip" (the rows are in range): "raise" would buffer out, a second copy
        return self._vector_view().take(rows, axis=0, out=out, mode="clip")

    def search(self, query: np.ndarray, k: int) -> list[tuple[str, float]]:
        """The k nearest live articles to one query vector, best first."""
        ids, sims, _ = self.search_rows(query, k)
        return list(zip(ids, sims.tolist(), strict=True))

    def search_rows(self, query: np.ndarray, k: int) -> tuple[list[str], np.ndarray, np.ndarray]:
        """search() as arrays in step, for vectorised ranking: the ids, their cosines (float64)
        and their rows (for vectors_at, without looking the ids up again)."""
        if not self._rows or k <= 0:
            return [], np.zeros(0), np.zeros(0, dtype=np.int64)
        total = len(self._row_ids)
        # over-fetch so k live rows survive the tombstone skip: by their expected share of the
        # top k plus slack first (fetching k + every tombstone would make HNSW search as wide
        # as the tombstone count), and by all of them in the rare case that falls short
        fetch = min(total, k + min(self.tombstones, 2 * k * self.tombstones // total + 16))
        # one query gains nothing from OpenMP threads, and on a busy 2-core server their
        # barrier waits made a 10k flat search ~40x slower (1 ms -> 44 ms, BENCHMARKS.md). The
        # setting is per calling thread, so it is restored for builds on this thread
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            while True:
                ids, sims, rows = self._search_live(query, k, fetch)
                if len(ids) == k or fetch >= min(total, k + self.tombstones):
                    return ids, sims, rows
                fetch = min(total, k + self.tombstones)
        finally:
            faiss.omp_set_num_threads(threads)

    def _search_live(
        self, query: np.ndarray, k: int, fetch: int
    ) -> tuple[list[str], np.ndarray, np.ndarray]:
        scores, rows = self._index.search(np.asarray(query, np.float32).reshape(1, -1), fetch)
        row_ids = self._row_ids
        # row -1: faiss found fewer than fetch; None: a tombstone
        found = [row_ids[row] if row >= 0 else None for row in rows[0].tolist()]
        live = [pos for pos, article_id in enumerate(found) if article_id is not None][:k]
        ids: list[str] = [found[pos] for pos in live]  # type: ignore[misc]
        return ids, scores[0][live].astype(np.float64), rows[0][live].astype(np.int64)

    def _vector_view(self) -> np.ndarray:
        """_stored_vectors(), kept until faiss's storage changes (upsert, restore): a numpy
        gather of a request's rows costs less than reconstruct_batch's Python wrapper."""
        view = self._view
        if view is None:
            view = self._view = self._stored_vectors()
        return view

    def _stored_vectors(self) -> np.ndarray:
        """Every row's vector (tombstones too) as a read-only view of faiss's own storage."""
        raw: Any = self._index
        # by the index itself, not self.kind: a loaded index is served before kind is set
        flat: Any = faiss.downcast_index(raw.storage) if hasattr(raw, "storage") else raw
        total = int(raw.ntotal)
        view = faiss.rev_swig_ptr(flat.get_xb(), total * self.dim)
        return np.asarray(view).reshape(total, self.dim)

    def _alive(self) -> np.ndarray:
        """Live rows, plus one False entry for faiss's -1."""
        return self._live[: len(self._row_ids) + 1].copy()

    # persistence: the folder format is recommender.index_folder's; faiss's file is read here

    def save(
        self, folder: Path, extra: dict[str, Any] | None = None, compact: bool = True
    ) -> dict[str, Any]:
        """Write index, row map, neighbour lists and manifest into folder. Compacted (no
        tombstones) unless compact=False: an incremental HNSW build keeps a few rather than
        rebuild the graph."""
        return save_index(self, folder, extra, compact)

    @classmethod
    def load(
        cls, folder: Path, model_name: str, dim: int, ef_search: int = 128, neighbours: int = 0
    ) -> VectorIndex:
        """Load a saved index; it must have been built with this model and dimension.
        neighbours: the depth of neighbour lists to serve (saved ones, else computed now)."""
        return load_index(cls, folder, model_name, dim, ef_search, neighbours)

    def write_raw(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    @staticmethod
    def read_raw(path: Path) -> tuple[Any, int, int]:
        """A faiss index file: (the index, its vector count, its dimension)."""
        raw = faiss.read_index(str(path))
        return raw, int(raw.ntotal), int(raw.d)

    def row_map(self) -> tuple[list[str | None], list[str]]:
        """Each row's article id (None: tombstoned) and embedding text hash."""
        return self._row_ids, self._row_hash

    def restore(self, raw: Any, row_ids: list[str | None], row_hash: list[str]) -> None:
        """Serve a raw faiss index read from a folder, with its row map."""
        self._index = raw
        self._view = None  # a view of the previous index's storage
        self._row_ids, self._row_hash = row_ids, row_hash
        self._rows = {article_id: row for row, article_id in enumerate(row_ids) if article_id}
        self._mark_live(0, len(row_ids))
        self._live[[row for row, article_id in enumerate(row_ids) if not article_id]] = False
        self.changes += 1

    def compacted(self) -> VectorIndex:
        fresh = VectorIndex(
            self.dim, self.model_name, self.kind, self.hnsw_m, self.ef_search, self.ef_construction
        )
        ids = list(self._rows)
        fresh.upsert(ids, self.vectors(ids), [self._row_hash[self._rows[i]] for i in ids])
        if self.neighbours is not None:
            new_of_old = np.full(len(self._row_ids), -1, dtype=np.int64)
            new_of_old[[self._rows[i] for i in ids]] = np.arange(len(ids))
            fresh.neighbours = self.neighbours.renumbered(new_of_old)
        return fresh
