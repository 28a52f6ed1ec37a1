"""Embedding with the cache, and offline rebuilds: store → embeddings → new index folder →
atomic switch of the CURRENT pointer. A failed build leaves the serving index untouched."""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from recommender.articles import Article, embedding_text, text_hash
from recommender.config import Settings
from recommender.embedding import Embedder
from recommender.errors import BuildInProgress, IndexMismatch, IndexNotFound
from recommender.index import VectorIndex, choose_kind
from recommender.store import Store

log = logging.getLogger(__name__)

CURRENT = "CURRENT"
PARTIAL = ".partial"
LOCK = ".build.lock"
# embeddings are cached after every chunk: a killed build loses at most one chunk of work
EMBED_CHUNK = 1_024
# an incremental HNSW build adds to the previous graph while changes stay under this share
MAX_GRAPH_CHANGE = 0.1

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
    chunk: int = EMBED_CHUNK,
) -> Embedded:
    """Vectors for articles: from the cache when (model, text) was seen before, else embedded
    and cached. A rebuild therefore re-embeds only what changed."""
    texts = [embedding_text(a, max_words) for a in articles]
    hashes = [text_hash(embedder.name, t) for t in texts]
    cached = store.get_embeddings(list(dict.fromkeys(hashes)))
    missing: list[int] = []
    queued: set[str] = set()
    for i, h in enumerate(hashes):
        # identical texts (syndicated copies) are embedded once
        if (h not in cached or cached[h].shape[0] != embedder.dim) and h not in queued:
            missing.append(i)
            queued.add(h)
    if progress and len(missing) < len(articles):
        progress(len(articles) - len(missing))
    for start in range(0, len(missing), chunk):
        part = missing[start : start + chunk]
        fresh = embedder.embed([texts[i] for i in part], progress)
        store.put_embeddings((hashes[i], fresh[row]) for row, i in enumerate(part))
        for row, i in enumerate(part):
            cached[hashes[i]] = fresh[row]
    vectors = np.zeros((len(articles), embedder.dim), dtype=np.float32)
    for i, h in enumerate(hashes):
        vectors[i] = cached[h]
    return Embedded(
        [a.id for a in articles], vectors, hashes, len(articles) - len(missing), len(missing)
    )


# index folders ------------------------------------------------------------------------------


def current_folder(root: Path) -> Path | None:
    """The folder CURRENT names, or None when the pointer is missing or not a plain folder
    name (a torn or garbled pointer must not send the loader elsewhere on disk)."""
    pointer = root / CURRENT
    try:
        name = pointer.read_bytes().decode("utf-8", errors="replace").strip()
    except OSError:
        return None
    if not name or "/" in name or "\\" in name or name in (".", "..") or "\ufffd" in name:
        return None
    return root / name


def has_index_folders(root: Path) -> bool:
    """Whether anything index-like is on disk (a pointer or a finished folder)."""
    return (root / CURRENT).exists() or bool(version_folders(root))


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
    if current is None and (root / CURRENT).exists():
        log.warning("index.pointer_unreadable", extra={"pointer": str(root / CURRENT)})
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


@dataclass(frozen=True)
class BuildResult:
    folder: Path
    count: int
    reused: int
    embedded: int
    seconds: float
    kind: str
    store_seq: int
    timings: dict[str, float] = field(default_factory=dict)


def corpus_fingerprint(ids: Sequence[str], hashes: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for article_id, content in sorted(zip(ids, hashes, strict=True)):
        digest.update(f"{article_id}\0{content}\n".encode())
    return digest.hexdigest()[:16]


def reuse_previous_graph(
    settings: Settings, embedder: Embedder, embedded: Embedded
) -> tuple[VectorIndex, str] | None:
    """The serving HNSW index with this build's changes applied, and its folder name, when that
    beats a new graph: same model and graph parameters, and few changes. Building an HNSW graph
    costs minutes at 50k articles; adding 1% of them to the old one costs a second."""
    folder = current_folder(settings.index_root)
    if folder is None:
        return None
    try:
        index = VectorIndex.load(folder, embedder.name, embedder.dim, settings.hnsw_ef_search)
    except (IndexNotFound, IndexMismatch):
        return None
    if (
        index.kind != "hnsw"
        or index.hnsw_m != settings.hnsw_m
        or index.ef_construction != settings.hnsw_ef_construction
    ):
        return None
    wanted = set(embedded.ids)
    gone = [article_id for article_id in index.ids() if article_id not in wanted]
    changed = [
        n
        for n, (article_id, content) in enumerate(zip(embedded.ids, embedded.hashes, strict=True))
        if index.content_hash(article_id) != content
    ]
    # past this, tombstones slow searches and a fresh graph is worth its time
    if index.tombstones + len(gone) + len(changed) > MAX_GRAPH_CHANGE * max(len(wanted), 1):
        return None
    index.remove(gone)
    index.upsert(
        [embedded.ids[n] for n in changed],
        embedded.vectors[changed],
        [embedded.hashes[n] for n in changed],
    )
    log.info(
        "build.graph_reused",
        extra={"folder": folder.name, "removed": len(gone), "added": len(changed)},
    )
    return index, folder.name


def build_index(
    settings: Settings,
    store: Store,
    embedder: Embedder,
    progress: ProgressFactory | None = None,
) -> BuildResult:
    """Full rebuild from the store into a new folder, then the atomic switch. Only one build
    runs per index root at a time (BuildInProgress otherwise)."""
    with build_lock(settings.index_root):
        return _build_locked(settings, store, embedder, progress)


def _build_locked(
    settings: Settings,
    store: Store,
    embedder: Embedder,
    progress: ProgressFactory | None,
) -> BuildResult:
    started = time.perf_counter()
    timings: dict[str, float] = {}
    root = settings.index_root
    for path in clean_partial(root):
        log.info("build.cleaned_partial", extra={"folder": str(path)})
    name = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    partial = root / f"{name}{PARTIAL}"
    # the partial folder exists for the whole build: a killed build is visible on disk and the
    # next one removes it; it is never a candidate for serving (no manifest, wrong suffix)
    partial.mkdir()
    (partial / "build.json").write_text(
        json.dumps({"pid": os.getpid(), "started_at": datetime.now(UTC).isoformat()})
    )
    # articles changed after this point are applied by the server after it swaps the index in
    store_seq = store.max_seq()
    mark = time.perf_counter()
    articles = [a for a in store.iter_articles() if a.is_published]
    timings["read_s"] = time.perf_counter() - mark
    step = progress("embedding", len(articles)) if progress else None
    mark = time.perf_counter()
    embedded = embed_articles(store, embedder, articles, settings.embed_max_words, step)
    timings["embed_s"] = time.perf_counter() - mark
    kind = choose_kind(settings.index_type, len(articles), settings.hnsw_threshold)
    step = progress("indexing", len(articles)) if progress else None
    mark = time.perf_counter()
    base = reuse_previous_graph(settings, embedder, embedded) if kind == "hnsw" else None
    if base is not None:
        index, based_on = base
        if step:
            step(len(articles))
    else:
        based_on = None
        index = VectorIndex(
            embedder.dim,
            embedder.name,
            kind,
            settings.hnsw_m,
            settings.hnsw_ef_search,
            settings.hnsw_ef_construction,
        )
        batch = 10_000
        for start in range(0, len(articles), batch):
            stop = start + batch
            index.upsert(
                embedded.ids[start:stop], embedded.vectors[start:stop], embedded.hashes[start:stop]
            )
            if step:
                step(len(embedded.ids[start:stop]))
    timings["index_s"] = time.perf_counter() - mark
    mark = time.perf_counter()
    (partial / "build.json").unlink()
    index.save(
        partial,
        extra={
            "corpus_fingerprint": corpus_fingerprint(embedded.ids, embedded.hashes),
            "store_seq": store_seq,
            "reused": embedded.reused,
            "embedded": embedded.embedded,
            "embed_max_words": settings.embed_max_words,
            "graph_from": based_on,
        },
        # a reused graph keeps its few tombstones: compacting would rebuild it from scratch
        compact=based_on is None,
    )
    final = root / name
    os.replace(partial, final)
    switch_current(root, final)
    timings["save_s"] = time.perf_counter() - mark
    for path in prune(root, settings.keep_index_versions):
        log.info("build.pruned", extra={"folder": str(path)})
    seconds = time.perf_counter() - started
    result = BuildResult(
        final,
        len(index),
        embedded.reused,
        embedded.embedded,
        seconds,
        kind,
        store_seq,
        {k: round(v, 3) for k, v in timings.items()},
    )
    log.info(
        "build.done",
        extra={
            "folder": str(final),
            "count": result.count,
            "kind": kind,
            "reused": result.reused,
            "embedded": result.embedded,
            "graph_from": based_on,
            "seconds": round(seconds, 2),
            **result.timings,
        },
    )
    return result
