"""Embedding with the cache, and offline rebuilds: store → embeddings → new index folder →
atomic switch of the CURRENT pointer. A failed build leaves the serving index untouched."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from recommender.articles import Article, embedding_text, text_hash
from recommender.config import Settings
from recommender.embedding import Embedder
from recommender.errors import IndexMismatch, IndexNotFound
from recommender.index import VectorIndex, choose_kind
from recommender.store import Store

log = logging.getLogger(__name__)

CURRENT = "CURRENT"
PARTIAL = ".partial"

ProgressFactory = Callable[[str, int], Callable[[int], None]]


@dataclass(frozen=True)
class Embedded:
    ids: list[str]
    vectors: np.ndarray
    hashes: list[str]
    reused: int
    embedded: int


def embed_articles(
    store: Store,
    embedder: Embedder,
    articles: Sequence[Article],
    max_words: int,
    progress: Callable[[int], None] | None = None,
) -> Embedded:
    """Vectors for articles: from the cache when (model, text) was seen before, else embedded
    and cached. A rebuild therefore re-embeds only what changed."""
    texts = [embedding_text(a, max_words) for a in articles]
    hashes = [text_hash(embedder.name, t) for t in texts]
    cached = store.get_embeddings(list(dict.fromkeys(hashes)))
    missing = [
        i for i, h in enumerate(hashes) if h not in cached or cached[h].shape[0] != embedder.dim
    ]
    if progress and len(missing) < len(articles):
        progress(len(articles) - len(missing))
    if missing:
        fresh = embedder.embed([texts[i] for i in missing], progress)
        store.put_embeddings((hashes[i], fresh[row]) for row, i in enumerate(missing))
        for row, i in enumerate(missing):
            cached[hashes[i]] = fresh[row]
    vectors = np.zeros((len(articles), embedder.dim), dtype=np.float32)
    for i, h in enumerate(hashes):
        vectors[i] = cached[h]
    return Embedded(
        [a.id for a in articles], vectors, hashes, len(articles) - len(missing), len(missing)
    )


# index folders ------------------------------------------------------------------------------


def current_folder(root: Path) -> Path | None:
    pointer = root / CURRENT
    if not pointer.is_file():
        return None
    name = pointer.read_text().strip()
    return root / name if name else None


def switch_current(root: Path, folder: Path) -> None:
    """Point CURRENT at folder with one rename: readers see the old or the new, never half."""
    tmp = root / f"{CURRENT}.tmp"
    tmp.write_text(folder.name)
    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, root / CURRENT)
    dir_fd = os.open(root, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def version_folders(root: Path) -> list[Path]:
    """Complete index folders, newest first."""
    if not root.is_dir():
        return []
    folders = [p for p in root.iterdir() if p.is_dir() and not p.name.endswith(PARTIAL)]
    return sorted(folders, key=lambda p: p.name, reverse=True)


def load_serving_index(settings: Settings, model_name: str, dim: int) -> tuple[VectorIndex, Path]:
    """The CURRENT index, or the newest good folder when CURRENT is missing or corrupt."""
    root = settings.index_root
    current = current_folder(root)
    candidates = ([current] if current else []) + [f for f in version_folders(root) if f != current]
    problems: list[str] = []
    for folder in candidates:
        try:
            index = VectorIndex.load(folder, model_name, dim, settings.hnsw_ef_search)
        except IndexMismatch:
            raise
        except IndexNotFound as exc:
            problems.append(str(exc))
            continue
        if folder != current:
            log.warning("index.fallback", extra={"folder": str(folder), "problems": problems})
        return index, folder
    raise IndexNotFound(f"no usable index under {root}" + (f" ({problems[0]})" if problems else ""))


def clean_partial(root: Path) -> list[Path]:
    """Remove folders a killed build left behind."""
    removed = []
    if root.is_dir():
        for path in root.iterdir():
            if path.name.endswith(PARTIAL):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
    return removed


def prune(root: Path, keep: int) -> list[Path]:
    current = current_folder(root)
    removed = []
    for folder in version_folders(root)[keep:]:
        if folder != current:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


@dataclass(frozen=True)
class BuildResult:
    folder: Path
    count: int
    reused: int
    embedded: int
    seconds: float
    kind: str
    store_seq: int


def corpus_fingerprint(ids: Sequence[str], hashes: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for article_id, content in sorted(zip(ids, hashes, strict=True)):
        digest.update(f"{article_id}\0{content}\n".encode())
    return digest.hexdigest()[:16]


def build_index(
    settings: Settings,
    store: Store,
    embedder: Embedder,
    progress: ProgressFactory | None = None,
) -> BuildResult:
    """Full rebuild from the store into a new folder, then the atomic switch."""
    started = time.perf_counter()
    root = settings.index_root
    root.mkdir(parents=True, exist_ok=True)
    for path in clean_partial(root):
        log.info("build.cleaned_partial", extra={"folder": str(path)})
    # articles changed after this point are applied by the server after it swaps the index in
    store_seq = store.max_seq()
    articles = [a for a in store.iter_articles() if a.is_published]
    step = progress("embedding", len(articles)) if progress else None
    embedded = embed_articles(store, embedder, articles, settings.embed_max_words, step)
    kind = choose_kind(settings.index_type, len(articles), settings.hnsw_threshold)
    index = VectorIndex(embedder.dim, embedder.name, kind, settings.hnsw_m, settings.hnsw_ef_search)
    step = progress("indexing", len(articles)) if progress else None
    batch = 10_000
    for start in range(0, len(articles), batch):
        stop = start + batch
        index.upsert(
            embedded.ids[start:stop], embedded.vectors[start:stop], embedded.hashes[start:stop]
        )
        if step:
            step(len(embedded.ids[start:stop]))
    name = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    partial = root / f"{name}{PARTIAL}"
    index.save(
        partial,
        extra={
            "corpus_fingerprint": corpus_fingerprint(embedded.ids, embedded.hashes),
            "store_seq": store_seq,
            "reused": embedded.reused,
            "embedded": embedded.embedded,
        },
    )
    final = root / name
    os.replace(partial, final)
    switch_current(root, final)
    prune(root, settings.keep_index_versions)
    seconds = time.perf_counter() - started
    result = BuildResult(
        final, len(index), embedded.reused, embedded.embedded, seconds, kind, store_seq
    )
    log.info(
        "build.done",
        extra={
            "folder": str(final),
            "count": result.count,
            "reused": result.reused,
            "embedded": result.embedded,
            "seconds": round(seconds, 2),
        },
    )
    return result
