"""The served index's lifecycle: load it at start-up, keep it in step with the store (articles
written through another process, or while a build ran), and swap in new builds, found by
polling CURRENT or asked for by the admin API."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recommender.articles import Article, embedding_text, text_hash
from recommender.artifacts import (
    current_folder,
    has_index_folders,
    load_folder_lexical,
    load_serving_index,
)
from recommender.catalog import Card, Catalog
from recommender.config import Settings
from recommender.embedding import Embedder, embed_articles
from recommender.errors import IndexMismatch, IndexNotFound
from recommender.index import VectorIndex
from recommender.lexical import LexicalSearch
from recommender.lexical.search import LexicalBatch
from recommender.ranking import Ranker
from recommender.service import heap
from recommender.store import Store

log = logging.getLogger(__name__)

LEXICAL_CHUNK = 1_000  # articles analysed at a time while the store is read


@dataclass(frozen=True)
class ReloadResult:
    swapped: bool
    folder: str | None
    reason: str
    replayed: int = 0
    seconds: float = 0.0


class IndexLifecycle:
    """Owns which index folder serves. `lock` is the service's: it guards index, catalogue and
    popularity, since faiss must not search while a row is added."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        embedder: Embedder,
        catalog: Catalog,
        ranker: Ranker,
        lock: threading.RLock,
    ) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.catalog = catalog
        self.ranker = ranker
        self.lock = lock
        self.folder: Path | None = None  # the folder being served; None: built in memory
        self.degraded: str | None = None  # why the index served is not the one CURRENT names
        # one reload at a time (poller and admin endpoint); never held by a request
        self._reload_lock = threading.Lock()
        self._synced_seq = 0  # store changes up to here are in the catalogue
        self._failed_folder: Path | None = None  # a CURRENT that did not load: not retried
        self._watcher: threading.Thread | None = None
        self._stop = threading.Event()

    def load_at_start(self) -> int:
        """Serve the index on disk and bring it and the catalogue up to date with the store, in
        one pass over the store. Returns how many articles that pass changed."""
        self._synced_seq = self.store.max_seq()
        root = self.settings.index_root
        try:
            index, folder = load_serving_index(
                root,
                self.embedder.name,
                self.embedder.dim,
                self.settings.hnsw_ef_search,
                self.settings.neighbour_lists,
            )
            self.serve(index, self._load_lexical(folder), folder)
            current = current_folder(root)
            if folder != current:
                self.degraded = f"serving {folder.name}: the index CURRENT names did not load"
        except IndexNotFound as exc:
            if has_index_folders(root):
                # every folder is unreadable: serve an index rebuilt from the store (the
                # embedding cache holds the vectors) and say so in /health/ready
                self.degraded = f"serving an index rebuilt in memory from the store: {exc}"
                log.error("index.unusable", extra={"reason": str(exc)})
                return self.reconcile(self.ranker.index, self.lexical, catalog=True)
            published = self.store.count_published()
            if published > self.settings.max_articles_without_index:
                raise IndexNotFound(
                    f"no index under {root} and {published} published articles in the store; "
                    "run `recommender build` first"
                ) from exc
            log.warning("index.missing", extra={"reason": str(exc), "articles": published})
        return self.reconcile(self.ranker.index, self.lexical, catalog=True)

    def _load_lexical(self, folder: Path) -> LexicalSearch:
        lists = self.settings.lexical_lists_config()
        return load_folder_lexical(folder, self.settings.lexical_max_words, lists)

    @property
    def lexical(self) -> LexicalSearch:
        """The lexical index being served (one is always set: the service starts with one)."""
        lexical = self.ranker.lexical
        assert isinstance(lexical, LexicalSearch)
        return lexical

    def index_health(self) -> dict[str, Any]:
        """The index part of /health/ready (`degraded`, when set, is one of its reasons)."""
        manifest = self.ranker.index.manifest
        return {
            "indexed": len(self.ranker.index),
            "index_folder": self.folder.name if self.folder else None,
            "index_built_at": manifest.get("built_at"),
            "index_build_seconds": manifest.get("build_seconds"),
        }

    def serve(self, index: VectorIndex, lexical: LexicalSearch, folder: Path | None) -> None:
        with self.lock:
            self.ranker.swap_index(index)
            self.ranker.lexical = lexical
            self.folder = folder
            self.degraded = None

    def reconcile(
        self,
        index: VectorIndex,
        lexical: LexicalSearch,
        since_seq: int = 0,
        catalog: bool = False,
    ) -> int:
        """Bring an index in line with the store: articles written after it was built (through
        the API, or while a build ran) are added, unpublished ones removed. With catalog, the
        cards of those articles are refreshed too (another process may have written them)."""
        stale: list[Article] = []
        gone: list[str] = []
        cards: list[Card] = []
        batch = LexicalBatch()
        pending: list[Article] = []
        for article in self.store.iter_articles(since_seq=since_seq):
            pending.append(article)
            if len(pending) >= LEXICAL_CHUNK:
                # analysed off the lock as we go: what is already current (same text) is skipped
                batch.extend(lexical.prepare(pending))
                pending = []
            if catalog:
                cards.append(Card.of(article))
            if not article.is_published:
                gone.append(article.id)
                continue
            content = text_hash(
                self.embedder.name, embedding_text(article, self.settings.embed_max_words)
            )
            if index.content_hash(article.id) != content:
                stale.append(article)
        if stale:
            embedded = embed_articles(
                self.store, self.embedder, stale, self.settings.embed_max_words
            )
            with self.lock:
                index.upsert(embedded.ids, embedded.vectors, embedded.hashes)
        batch.extend(lexical.prepare(pending))
        with self.lock:
            index.remove(gone)
            lexical.apply(batch)
            for card in cards:
                self.catalog.put(card)
        return len(stale) + len(gone)

    def swap_index(
        self, index: VectorIndex, lexical: LexicalSearch, folder: Path, since_seq: int
    ) -> int:
        """Serve a freshly built index. Articles written while it was built are replayed onto it
        first (off the lock: requests keep using the old index meanwhile); the last few, written
        during that replay, under the lock at the switch."""
        seen = self.store.max_seq()
        changed = self.reconcile(index, lexical, min(since_seq, self._synced_seq), catalog=True)
        with self.lock:
            changed += self.reconcile(index, lexical, seen, catalog=True)
            self.serve(index, lexical, folder)
            self._synced_seq = max(self._synced_seq, seen)
        return changed

    def follow_store(self) -> int:
        """Catch up with articles written through other replicas since the last catch-up (the
        change feed says when). Their vectors come from the store's embedding cache, filled by
        the replica that received them, so nothing is embedded twice."""
        with self._reload_lock:
            seen = self.store.max_seq()
            if seen <= self._synced_seq:
                return 0
            changed = self.reconcile(
                self.ranker.index, self.lexical, self._synced_seq, catalog=True
            )
            self._synced_seq = seen
            if changed:
                # the result cache cannot know which cached lists the other replica's writes
                # touch: a new generation drops them all, as a new index does
                with self.lock:
                    self.ranker.generation += 1
            return changed

    def reload_if_changed(self, force: bool = False) -> ReloadResult:
        """Swap in the index CURRENT names when it is not the one serving. Loading and replay run
        on the caller's thread (the poller's or the admin request's), never a reader's; a folder
        that failed to load is not retried until CURRENT changes, unless forced."""
        with self._reload_lock:
            started = time.perf_counter()
            folder = current_folder(self.settings.index_root)
            if folder is None:
                return ReloadResult(False, None, "no CURRENT index pointer")
            if folder == self.folder:
                return ReloadResult(False, folder.name, "already serving")
            if folder == self._failed_folder and not force:
                return ReloadResult(False, folder.name, "failed to load before")
            try:
                index = VectorIndex.load(
                    folder,
                    self.embedder.name,
                    self.embedder.dim,
                    self.settings.hnsw_ef_search,
                    self.settings.neighbour_lists,
                )
                lexical = self._load_lexical(folder)
            except (IndexNotFound, IndexMismatch) as exc:
                self._failed_folder = folder
                log.error("index.reload_failed", extra={"folder": str(folder), "reason": str(exc)})
                return ReloadResult(False, folder.name, str(exc))
            since = int(index.manifest.get("store_seq", 0))
            replayed = self.swap_index(index, lexical, folder, since)
            self._failed_folder = None
            if self.settings.gc_freeze:
                heap.settle()  # frees the old index's cycles, freezes the new one
            seconds = time.perf_counter() - started
            log.info(
                "index.swapped",
                extra={
                    "folder": folder.name,
                    "count": len(index),
                    "replayed": replayed,
                    "seconds": round(seconds, 3),
                },
            )
            return ReloadResult(True, folder.name, "swapped", replayed, seconds)

    def start_watching(self, interval: float) -> None:
        """Poll CURRENT every interval seconds in a daemon thread and swap in new builds."""
        if interval <= 0 or self._watcher is not None:
            return
        self._stop.clear()

        def watch() -> None:
            while not self._stop.wait(interval):
                try:
                    self.reload_if_changed()
                except Exception:
                    # the poller must survive anything: the next tick tries again
                    log.exception("index.watch_failed")

        self._watcher = threading.Thread(target=watch, name="index-watcher", daemon=True)
        self._watcher.start()
        log.info("index.watching", extra={"interval_s": interval})

    def stop_watching(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
            self._watcher = None
