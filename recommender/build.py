"""Offline rebuild: store → embeddings → new index folder → atomic switch of the CURRENT pointer.
A failed build leaves the serving index untouched."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from recommender.articles import Article
from recommender.artifacts import (
    PARTIAL,
    build_lock,
    clean_partial,
    current_folder,
    prune,
    switch_current,
)
from recommender.config import Settings
from recommender.embedding import Embedded, Embedder, embed_articles
from recommender.errors import IndexMismatch, IndexNotFound
from recommender.index import VectorIndex, choose_kind
from recommender.lexical.search import LexicalBatch, LexicalSearch
from recommender.logs import Progress, ProgressFactory
from recommender.store import Store

log = logging.getLogger(__name__)

# an incremental HNSW build adds to the previous graph while changes stay under this share
MAX_GRAPH_CHANGE = 0.1
# rows added to a new index per call, so the progress bar moves during a long HNSW build
INDEX_BATCH = 10_000


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
        index = VectorIndex.load(
            folder, embedder.name, embedder.dim, settings.hnsw_ef_search, settings.neighbour_lists
        )
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
    settings: Settings, store: Store, embedder: Embedder, progress: ProgressFactory | None
) -> BuildResult:
    started = time.perf_counter()
    timings: dict[str, float] = {}
    partial = _start_partial(settings.index_root)
    # articles changed after this point are applied by the server after it swaps the index in
    store_seq = store.max_seq()
    articles, embedded = _read_and_embed(settings, store, embedder, progress, timings)
    mark = time.perf_counter()
    # the lexical index lives in the same folder: versioned and swapped with the vectors
    build_lexical(settings, articles, progress).save(partial)
    timings["lexical_s"] = time.perf_counter() - mark
    kind = choose_kind(settings.index_type, len(embedded.ids), settings.hnsw_threshold)
    mark = time.perf_counter()
    index, based_on = _make_index(settings, embedder, embedded, kind, progress)
    timings["index_s"] = time.perf_counter() - mark
    mark = time.perf_counter()
    extra = {
        "corpus_fingerprint": corpus_fingerprint(embedded.ids, embedded.hashes),
        "store_seq": store_seq,
        "reused": embedded.reused,
        "embedded": embedded.embedded,
        "embed_max_words": settings.embed_max_words,
        "graph_from": based_on,
        # up to the save, which is quick: what the metrics report as the last build's duration
        "build_seconds": round(time.perf_counter() - started, 3),
    }
    final = _publish(settings, index, partial, extra, compact=based_on is None)
    timings["save_s"] = time.perf_counter() - mark
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


def _start_partial(root: Path) -> Path:
    """A new, empty .partial folder. It exists for the whole build: a killed build is visible
    on disk and the next one removes it; it is never a candidate for serving (no manifest,
    wrong suffix)."""
    for path in clean_partial(root):
        log.info("build.cleaned_partial", extra={"folder": str(path)})
    name = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    partial = root / f"{name}{PARTIAL}"
    partial.mkdir()
    (partial / "build.json").write_text(
        json.dumps({"pid": os.getpid(), "started_at": datetime.now(UTC).isoformat()})
    )
    return partial


def _read_and_embed(
    settings: Settings,
    store: Store,
    embedder: Embedder,
    progress: ProgressFactory | None,
    timings: dict[str, float],
) -> tuple[list[Article], Embedded]:
    mark = time.perf_counter()
    articles = [a for a in store.iter_articles() if a.is_published]
    timings["read_s"] = time.perf_counter() - mark
    step = progress("embedding", len(articles)) if progress else None
    mark = time.perf_counter()
    embedded = embed_articles(store, embedder, articles, settings.embed_max_words, step)
    timings["embed_s"] = time.perf_counter() - mark
    return articles, embedded


def build_lexical(
    settings: Settings, articles: Sequence[Article], progress: ProgressFactory | None = None
) -> LexicalSearch:
    """The BM25 index and salient names of the published articles."""
    step = progress("lexical", len(articles)) if progress else None
    lexical = LexicalSearch(settings.lexical_max_words, lists=settings.lexical_lists_config())
    batch = LexicalBatch()
    for start in range(0, len(articles), INDEX_BATCH):
        batch.extend(lexical.prepare(articles[start : start + INDEX_BATCH]))
        if step:
            step(len(articles[start : start + INDEX_BATCH]))
    lexical.apply(batch)  # one batch: one compact segment
    return lexical


def _make_index(
    settings: Settings,
    embedder: Embedder,
    embedded: Embedded,
    kind: str,
    progress: ProgressFactory | None,
) -> tuple[VectorIndex, str | None]:
    """The index to save, and the folder whose graph it continues (None for a new one)."""
    step: Progress | None = progress("indexing", len(embedded.ids)) if progress else None
    base = reuse_previous_graph(settings, embedder, embedded) if kind == "hnsw" else None
    if base is not None:
        if step:
            step(len(embedded.ids))
        return base
    index = VectorIndex(
        embedder.dim,
        embedder.name,
        kind,
        settings.hnsw_m,
        settings.hnsw_ef_search,
        settings.hnsw_ef_construction,
    )
    for start in range(0, len(embedded.ids), INDEX_BATCH):
        stop = start + INDEX_BATCH
        index.upsert(
            embedded.ids[start:stop], embedded.vectors[start:stop], embedded.hashes[start:stop]
        )
        if step:
            step(len(embedded.ids[start:stop]))
    # computed once for the whole corpus (a batched search), saved with the vectors
    index.keep_neighbours(settings.neighbour_lists)
    return index, None


def _publish(
    settings: Settings,
    index: VectorIndex,
    partial: Path,
    extra: dict[str, object],
    compact: bool,
) -> Path:
    """Save into the partial folder, rename it to its final name, switch CURRENT, prune."""
    root = settings.index_root
    (partial / "build.json").unlink()
    # a reused graph keeps its few tombstones: compacting would rebuild it from scratch
    index.save(partial, extra=extra, compact=compact)
    final = partial.with_name(partial.name.removesuffix(PARTIAL))
    os.replace(partial, final)
    switch_current(root, final)
    for path in prune(root, settings.keep_index_versions):
        log.info("build.pruned", extra={"folder": str(path)})
    return final
