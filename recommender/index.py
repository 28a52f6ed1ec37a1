"""VectorIndex over faiss: add, remove, search, save, load. The only faiss user.

Rows are faiss's own sequential ids. A removed or replaced article leaves a tombstoned row
behind (HNSW cannot delete), which searches skip; a rebuild compacts them away.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from recommender import __version__
from recommender.errors import IndexMismatch
from recommender.index_folder import INDEX_FILE, MANIFEST_FILE, ROWS_FILE, read_folder, write_folder
from recommender.neighbours import NeighbourLists

__all__ = ["INDEX_FILE", "MANIFEST_FILE", "ROWS_FILE", "VectorIndex", "choose_kind"]

log = logging.getLogger(__name__)
NEIGHBOUR_BATCH = 2048  # rows searched per batch when neighbour lists are (re)computed


def choose_kind(kind: str, count: int, hnsw_threshold: int) -> str:
    if kind == "auto":
        return "hnsw" if count >= hnsw_threshold else "flat"
    return kind


class VectorIndex:
    """Normalised vectors, inner product = cosine, keyed by article id."""

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

    def upsert(self, ids: Sequence[str], vectors: np.ndarray, hashes: Sequence[str]) -> None:
        """Add articles; an id already present is replaced (its old row is tombstoned)."""
        if len(ids) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (len(ids), self.dim):
            raise IndexMismatch(
                f"expected vectors of shape ({len(ids)}, {self.dim}), got {vectors.shape}"
            )
        self.remove(ids)
        start = len(self._row_ids)
        self._index.add(vectors)
        for offset, (article_id, content) in enumerate(zip(ids, hashes, strict=True)):
            self._row_ids.append(article_id)
            self._row_hash.append(content)
            self._rows[article_id] = start + offset
        self._mark_live(start, len(self._row_ids))
        if self.neighbours is not None:
            self._enter_neighbours(start, vectors)

    def remove(self, ids: Sequence[str]) -> int:
        removed = 0
        for article_id in ids:
            row = self._rows.pop(article_id, None)
            if row is not None:
                self._row_ids[row] = None
                self._live[row] = False
                removed += 1
        return removed

    def _mark_live(self, start: int, stop: int) -> None:
        if stop >= len(self._live):  # room for one more: the last entry stays False
            grown = np.zeros(max(2 * len(self._live), stop + 1), dtype=bool)
            grown[: len(self._live)] = self._live
            self._live = grown
        self._live[start:stop] = True

    def ids_at(self, rows: np.ndarray) -> list[str | None]:
        """The article id of each row (None: tombstoned), for the few rows a list shows."""
        row_ids = self._row_ids
        return [row_ids[row] for row in rows.tolist()]

    def vector(self, article_id: str) -> np.ndarray | None:
        row = self._rows.get(article_id)
        return None if row is None else np.asarray(self._index.reconstruct(row), dtype=np.float32)

    def vectors(self, ids: Sequence[str]) -> np.ndarray:
        """Vectors of live ids, in order (rows of zeros for unknown ids)."""
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        rows = [self._rows.get(article_id) for article_id in ids]
        found = [i for i, row in enumerate(rows) if row is not None]
        if found:
            # one reconstruct_batch call, not one faiss call per row: MMR asks for ~100 rows
            # per request and the per-call overhead dominated /related (see BENCHMARKS.md)
            keys = np.fromiter((rows[i] for i in found), dtype=np.int64, count=len(found))
            out[found] = self._index.reconstruct_batch(keys)
        return out

    def rows(self, ids: Sequence[str]) -> np.ndarray:
        """The live row of each id, -1 for an id not in the index."""
        # map over the C-level dict.get: ~2x a generator expression, ~150 ids a request
        found = map(self._rows.get, ids, itertools.repeat(-1))
        return np.fromiter(found, dtype=np.int64, count=len(ids))

    def vectors_at(self, rows: np.ndarray) -> np.ndarray:
        """Vectors of live rows (from rows() or search_rows()), in order."""
        if len(rows) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors: np.ndarray = self._index.reconstruct_batch(np.asarray(rows, dtype=np.int64))
        return vectors

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

    # precomputed neighbours -------------------------------------------------------------------

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

    def _stored_vectors(self) -> np.ndarray:
        """Every row's vector (tombstones too) as a read-only view of faiss's own storage."""
        raw: Any = self._index
        flat: Any = raw if self.kind == "flat" else faiss.downcast_index(raw.storage)
        total = int(raw.ntotal)
        view = faiss.rev_swig_ptr(flat.get_xb(), total * self.dim)
        return np.asarray(view).reshape(total, self.dim)

    def _alive(self) -> np.ndarray:
        """Live rows, plus one False entry for faiss's -1."""
        return self._live[: len(self._row_ids) + 1].copy()

    def _compute_neighbours(self, lists: NeighbourLists) -> None:
        """Every live row's list by one batched search (threads on: a build, not a request)."""
        alive = self._alive()
        live_rows = np.flatnonzero(alive[:-1])
        fetch = min(len(self._row_ids), lists.depth + self.tombstones)
        complete = len(self._rows) <= lists.depth
        lists.reserve(len(self._row_ids))
        for lo in range(0, len(live_rows), NEIGHBOUR_BATCH):
            chunk = live_rows[lo : lo + NEIGHBOUR_BATCH]
            scores, found = self._index.search(self.vectors_at(chunk), fetch)
            for row, sims, rows in zip(chunk.tolist(), scores, found, strict=True):
                keep = alive[rows]
                lists.set_list(row, rows[keep], sims[keep], complete)

    def _enter_neighbours(self, start: int, vectors: np.ndarray) -> None:
        """Rows start.. were just added: exact lists for them, and entered into older lists.
        A large batch (a rebuild's worth) recomputes every list by batched search instead."""
        lists = self.neighbours
        assert lists is not None
        if len(vectors) > NEIGHBOUR_BATCH:
            self._compute_neighbours(lists)
            return
        dead = ~self._alive()[:-1]
        lists.enter(start, vectors, self._stored_vectors(), dead, len(self._rows))

    # persistence (the folder format: recommender.index_folder) ------------------------------

    def save(
        self, folder: Path, extra: dict[str, Any] | None = None, compact: bool = True
    ) -> dict[str, Any]:
        """Write index, row map, neighbour lists and manifest into folder. Compacted (no
        tombstones) unless compact=False: an incremental HNSW build keeps a few rather than
        rebuild the graph."""
        index = self if self.tombstones == 0 or not compact else self.compacted()
        manifest = {
            "model": self.model_name,
            "dimension": self.dim,
            "count": len(index),
            "tombstones": index.tombstones,
            "kind": self.kind,
            "hnsw_m": self.hnsw_m,
            "ef_construction": self.ef_construction,
            "built_at": datetime.now(UTC).isoformat(),
            "package_version": __version__,
            **(extra or {}),
        }
        write_folder(
            folder,
            lambda path: faiss.write_index(index._index, str(path)),
            index._row_ids,
            index._row_hash,
            index.neighbours,
            manifest,
        )
        self.manifest = manifest
        return manifest

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

    @classmethod
    def load(
        cls, folder: Path, model_name: str, dim: int, ef_search: int = 128, neighbours: int = 0
    ) -> VectorIndex:
        """Load a saved index; it must have been built with this model and dimension.
        neighbours: the depth of neighbour lists to serve (saved ones, else computed now)."""
        found = read_folder(
            folder,
            model_name,
            dim,
            lambda path: faiss.read_index(str(path)),
            lambda raw: (int(raw.ntotal), int(raw.d)),
        )
        manifest = found.manifest
        index = cls(
            dim,
            model_name,
            "flat",
            hnsw_m=int(manifest.get("hnsw_m", 32)),
            ef_construction=int(manifest.get("ef_construction", 200)),
        )
        index.kind = str(manifest.get("kind", "flat"))
        index._index = found.raw
        index._row_ids, index._row_hash = found.row_ids, found.row_hash
        index._rows = {
            article_id: row
            for row, article_id in enumerate(index._row_ids)
            if article_id is not None
        }
        index._mark_live(0, len(index._row_ids))
        index._live[[row for row, i in enumerate(index._row_ids) if i is None]] = False
        index.ef_search = ef_search
        index.manifest = manifest
        if neighbours > 0:
            lists = NeighbourLists.load(folder, len(index._row_ids), neighbours)
            index.keep_neighbours(neighbours, lists)
        return index
