"""The index folder format: what `recommender build` writes and the service loads, checked.

A folder holds the faiss index (`index.faiss`), the row -> (article id, embedding text hash) map
(`rows.json`), the neighbour lists when kept (`neighbours.npz`) and `manifest.json` (model,
dimension, count, built_at, package version, ...). The manifest is written last, so a folder
without one is incomplete. The faiss file itself is read and written by recommender.index (the
only faiss user), through the two callables it hands in here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recommender import __version__
from recommender.errors import IndexMismatch, IndexNotFound
from recommender.fsutil import atomic_write_json, fsync_path
from recommender.neighbours import NeighbourLists

if TYPE_CHECKING:  # recommender.index calls in here: no import at run time
    from recommender.index import VectorIndex

INDEX_FILE = "index.faiss"
ROWS_FILE = "rows.json"
MANIFEST_FILE = "manifest.json"


@dataclass
class FolderContents:
    """A loaded folder: the manifest, the row map and the raw faiss index (opaque here)."""

    manifest: dict[str, Any]
    row_ids: list[str | None]
    row_hash: list[str]
    raw: Any


def write_folder(
    folder: Path,
    write_raw: Callable[[Path], None],
    row_ids: list[str | None],
    row_hash: list[str],
    neighbours: NeighbourLists | None,
    manifest: dict[str, Any],
) -> None:
    """Write every file of an index folder, the manifest last, and sync the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    write_raw(folder / INDEX_FILE)
    # the folder is renamed into service after save: its files must be on disk by then
    fsync_path(folder / INDEX_FILE)
    rows = [[i, h] for i, h in zip(row_ids, row_hash, strict=True)]
    atomic_write_json(folder / ROWS_FILE, rows)
    if neighbours is not None:
        neighbours.save(folder, len(row_ids))
    atomic_write_json(folder / MANIFEST_FILE, manifest)
    fsync_path(folder)


def save_index(
    index: VectorIndex, folder: Path, extra: dict[str, Any] | None, compact: bool
) -> dict[str, Any]:
    """VectorIndex.save: the folder of index (compacted first when asked and it has
    tombstones); the manifest written, which index keeps."""
    saved = index if index.tombstones == 0 or not compact else index.compacted()
    manifest = {
        "model": index.model_name,
        "dimension": index.dim,
        "count": len(saved),
        "tombstones": saved.tombstones,
        "kind": index.kind,
        "hnsw_m": index.hnsw_m,
        "ef_construction": index.ef_construction,
        "built_at": datetime.now(UTC).isoformat(),
        "package_version": __version__,
        **(extra or {}),
    }
    write_folder(folder, saved.write_raw, *saved.row_map(), saved.neighbours, manifest)
    index.manifest = manifest
    return manifest


def load_index(
    cls: type[VectorIndex],
    folder: Path,
    model_name: str,
    dim: int,
    ef_search: int,
    neighbours: int,
) -> VectorIndex:
    """VectorIndex.load: the index of a checked folder, with its neighbour lists at depth
    neighbours (the saved ones when they fit, else computed now; 0: none)."""
    found = read_folder(folder, model_name, dim, cls.read_raw)
    manifest = found.manifest
    hnsw_m, ef_construction = manifest.get("hnsw_m", 32), manifest.get("ef_construction", 200)
    index = cls(dim, model_name, "flat", hnsw_m=int(hnsw_m), ef_construction=int(ef_construction))
    index.kind = str(manifest.get("kind", "flat"))
    index.restore(found.raw, found.row_ids, found.row_hash)
    index.ef_search = ef_search
    index.manifest = manifest
    if neighbours > 0:
        lists = NeighbourLists.load(folder, len(found.row_ids), neighbours)
        index.keep_neighbours(neighbours, lists)
    return index


def read_folder(
    folder: Path, model_name: str, dim: int, read_raw: Callable[[Path], tuple[Any, int, int]]
) -> FolderContents:
    """Read and check a folder: built with this model and dimension, rows matching vectors.
    read_raw(path) answers (raw index, its vectors, its dimension). IndexNotFound for a
    folder that is missing or unreadable, IndexMismatch for one built with another model."""
    manifest_path = folder / MANIFEST_FILE
    if not manifest_path.is_file():
        raise IndexNotFound(f"no index manifest in {folder}")
    try:
        manifest = json.loads(manifest_path.read_text())
        rows = json.loads((folder / ROWS_FILE).read_text())
        raw, total, raw_dim = read_raw(folder / INDEX_FILE)
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
    if total != len(rows) or raw_dim != dim:
        raise IndexNotFound(
            f"index in {folder} is inconsistent ({total} vectors, {len(rows)} rows)"
        )
    try:
        row_ids = [None if r[0] is None else str(r[0]) for r in rows]
        row_hash = [str(r[1]) for r in rows]
    except (TypeError, IndexError, KeyError) as exc:
        raise IndexNotFound(f"index in {folder} is unreadable: malformed rows") from exc
    return FolderContents(manifest, row_ids, row_hash, raw)
