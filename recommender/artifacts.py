"""Index folders on disk: the CURRENT pointer, complete versions, the build lock, clean-up of
killed builds and pruning of old versions, and loading the folder to serve.

    models/index/
      CURRENT                        name of the folder being served
      20251006T120000123456Z/        one complete build (manifest.json, index.faiss, rows.json)
      20251006T130000654321Z.partial a build in progress, or one that was killed
      .build.lock                    flock held by the running build
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from recommender.component_configs import LexicalListsConfig
from recommender.errors import BuildInProgress, IndexMismatch, IndexNotFound
from recommender.fsutil import atomic_write_text, read_pointer
from recommender.index import MANIFEST_FILE, VectorIndex
from recommender.lexical import LexicalSearch
from recommender.lexical.storage import META as LEXICAL_META

log = logging.getLogger(__name__)

CURRENT = "CURRENT"
PARTIAL = ".partial"
LOCK = ".build.lock"


def current_folder(root: Path) -> Path | None:
    """The folder CURRENT names, or None when the pointer is missing or garbled."""
    name = read_pointer(root / CURRENT)
    return None if name is None else root / name


def current_manifest(root: Path) -> dict[str, Any] | None:
    """The manifest of the folder CURRENT names, or None when there is none or it is unreadable
    (the loader then reports why)."""
    folder = current_folder(root)
    if folder is None:
        return None
    try:
        manifest = json.loads((folder / MANIFEST_FILE).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def has_index_folders(root: Path) -> bool:
    """Whether anything index-like is on disk (a pointer or a finished folder)."""
    return (root / CURRENT).exists() or bool(version_folders(root))


def switch_current(root: Path, folder: Path) -> None:
    """Point CURRENT at folder with one rename: readers see the old or the new, never half."""
    atomic_write_text(root / CURRENT, folder.name, sync_folder=True)


def version_folders(root: Path) -> list[Path]:
    """Complete index folders, newest first."""
    if not root.is_dir():
        return []
    folders = [p for p in root.iterdir() if p.is_dir() and not p.name.endswith(PARTIAL)]
    return sorted(folders, key=lambda p: p.name, reverse=True)


def load_serving_index(
    root: Path, model_name: str, dim: int, ef_search: int, neighbours: int = 0
) -> tuple[VectorIndex, Path]:
    """The CURRENT index, or the newest good folder when CURRENT is missing or corrupt."""
    current = current_folder(root)
    candidates = ([current] if current else []) + [f for f in version_folders(root) if f != current]
    if current is None and (root / CURRENT).exists():
        log.warning("index.pointer_unreadable", extra={"pointer": str(root / CURRENT)})
    problems: list[str] = []
    for folder in candidates:
        try:
            index = VectorIndex.load(folder, model_name, dim, ef_search, neighbours)
        except IndexMismatch:
            raise
        except IndexNotFound as exc:
            problems.append(str(exc))
            continue
        if folder != current:
            log.warning("index.fallback", extra={"folder": str(folder), "problems": problems})
        return index, folder
    raise IndexNotFound(
        f"no usable index under {root}"
        + (f" ({problems[0]})" if problems else "")
        + "; run `recommender build`"
    )


@contextmanager
def build_lock(root: Path) -> Iterator[None]:
    """One build at a time per index root. flock is released by the kernel when the holder
    dies, so a build killed with SIGKILL never leaves a stale lock behind."""
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BuildInProgress(f"another build is running on {root}") from None
        yield
    finally:
        os.close(fd)


def clean_partial(root: Path) -> list[Path]:
    """Remove folders a killed build left behind (call with the build lock held)."""
    removed = []
    if root.is_dir():
        for path in root.iterdir():
            if path.name.endswith(PARTIAL):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
    return removed


def prune(root: Path, keep: int) -> list[Path]:
    """Remove all but the newest `keep` folders; the one CURRENT names is always kept."""
    current = current_folder(root)
    removed = []
    for folder in version_folders(root)[max(keep, 1) :]:
        if folder != current:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def load_folder_lexical(
    folder: Path | None, max_words: int, lists: LexicalListsConfig | None = None
) -> LexicalSearch:
    """The lexical index saved with the vectors (and its neighbour lists); empty for a folder
    built before there was one (the start-up reconcile then fills it from the store). An
    unreadable one is IndexNotFound, like an unreadable vector index: the folder is not served
    half."""
    if folder is None or not (folder / LEXICAL_META).is_file():
        return LexicalSearch(max_words, lists=lists)
    return LexicalSearch.load(folder, max_words, lists=lists)
