"""VectorIndex over faiss: add, remove, search, save, load. The only faiss user.

Rows are faiss's own sequential ids. A removed or replaced article leaves a tombstoned row
behind (HNSW cannot delete), which searches skip; a rebuild compacts them away.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from recommender import __version__
from recommender.errors import IndexMismatch, IndexNotFound
from recommender.fsutil import atomic_write_json, fsync_path

log = logging.getLogger(__name__)

INDEX_FILE = "index.faiss"
ROWS_FILE = "rows.json"
MANIFEST_FILE = "manifest.json"


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
        self.manifest: dict[str, Any] = {}

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

    def remove(self, ids: Sequence[str]) -> int:
        removed = 0
        for article_id in ids:
            row = self._rows.pop(article_id, None)
            if row is not None:
                self._row_ids[row] = None
                removed += 1
        return removed

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
        get = self._rows.get
        return np.fromiter((get(i, -1) for i in ids), dtype=np.int64, count=len(ids))

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

    # persistence ------------------------------------------------------------------------------

    def save(
        self, folder: Path, extra: dict[str, Any] | None = None, compact: bool = True
    ) -> dict[str, Any]:
        """Write index, row map and manifest into folder. Compacted (no tombstones) unless
        compact=False: an incremental HNSW build keeps a few rather than rebuild the graph."""
        folder.mkdir(parents=True, exist_ok=True)
        index = self if self.tombstones == 0 or not compact else self.compacted()
        faiss.write_index(index._index, str(folder / INDEX_FILE))
        # the folder is renamed into service after save: its files must be on disk by then
        fsync_path(folder / INDEX_FILE)
        rows = [[i, h] for i, h in zip(index._row_ids, index._row_hash, strict=True)]
        atomic_write_json(folder / ROWS_FILE, rows)
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
        atomic_write_json(folder / MANIFEST_FILE, manifest)
        fsync_path(folder)
        self.manifest = manifest
        return manifest

    def compacted(self) -> VectorIndex:
        fresh = VectorIndex(
            self.dim, self.model_name, self.kind, self.hnsw_m, self.ef_search, self.ef_construction
        )
        ids = list(self._rows)
        fresh.upsert(ids, self.vectors(ids), [self._row_hash[self._rows[i]] for i in ids])
        return fresh

    @classmethod
    def load(cls, folder: Path, model_name: str, dim: int, ef_search: int = 128) -> VectorIndex:
        """Load a saved index; it must have been built with this model and dimension."""
        manifest_path = folder / MANIFEST_FILE
        if not manifest_path.is_file():
            raise IndexNotFound(f"no index manifest in {folder}")
        try:
            manifest = json.loads(manifest_path.read_text())
            rows = json.loads((folder / ROWS_FILE).read_text())
            raw = faiss.read_index(str(folder / INDEX_FILE))
        except (OSError, ValueError, RuntimeError) as exc:
            # first line only: faiss errors carry a multi-line C++ trace
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise IndexNotFound(f"index in {folder} is unreadable: {reason}") from exc
        if not isinstance(manifest, dict) or not isinstance(rows, list):
            raise IndexNotFound(f"index in {folder} is unreadable: unexpected manifest or rows")
        if manifest.get("model") != model_name or manifest.get("dimension") != dim:
            raise IndexMismatch(
                f"index in {folder} was built with model {manifest.get('model')!r} "
                f"(dimension {manifest.get('dimension')}), but the service uses {model_name!r} "
                f"(dimension {dim}); run `recommender build`"
            )
        if raw.ntotal != len(rows) or raw.d != dim:
            raise IndexNotFound(
                f"index in {folder} is inconsistent ({raw.ntotal} vectors, {len(rows)} rows)"
            )
        index = cls(
            dim,
            model_name,
            "flat",
            hnsw_m=int(manifest.get("hnsw_m", 32)),
            ef_construction=int(manifest.get("ef_construction", 200)),
        )
        index.kind = str(manifest.get("kind", "flat"))
        index._index = raw
        try:
            index._row_ids = [None if r[0] is None else str(r[0]) for r in rows]
            index._row_hash = [str(r[1]) for r in rows]
        except (TypeError, IndexError, KeyError) as exc:
            raise IndexNotFound(f"index in {folder} is unreadable: malformed rows") from exc
        index._rows = {
            article_id: row
            for row, article_id in enumerate(index._row_ids)
            if article_id is not None
        }
        index.ef_search = ef_search
        index.manifest = manifest
        return index
