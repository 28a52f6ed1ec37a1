"""The running recommender: store, embedder, live index, catalogue, popularity and ranker, kept
consistent with each other. The API and the CLI both drive this one object."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from recommender.articles import Article, embedding_text, text_hash
from recommender.build import (
    build_index,
    current_folder,
    embed_articles,
    has_index_folders,
    load_serving_index,
)
from recommender.catalog import Card, Catalog
from recommender.config import Settings
from recommender.embedding import Embedder, create_embedder
from recommender.errors import (
    ArticleNotFound,
    BuildInProgress,
    IndexMismatch,
    IndexNotFound,
    RecommenderError,
)
from recommender.index import VectorIndex
from recommender.popularity import Popularity, PopularityConfig
from recommender.ranking import RankedList, Ranker, RankingParams, Weights
from recommender.store import Event, Store

log = logging.getLogger(__name__)


def half_life_hours(settings: Settings) -> float:
    """The popularity half-life: an operator's explicit setting wins, else the one the
    evaluation chose on train users (recorded in ranker.json), else the settings' default."""
    if "half_life_hours" in settings.model_fields_set:
        return settings.half_life_hours
    path = settings.resolved_ranker_path
    try:
        learned = json.loads(path.read_text()).get("popularity_half_life_hours")
    except (OSError, ValueError, AttributeError):
        learned = None
    if isinstance(learned, int | float) and learned > 0:
        return float(learned)
    return settings.half_life_hours


def popularity_config(settings: Settings) -> PopularityConfig:
    return PopularityConfig(
        half_life_hours=half_life_hours(settings),
        long_half_life_hours=settings.trending_long_half_life_hours,
        session_dedup_minutes=settings.session_dedup_minutes,
        click_weight=settings.click_weight,
        view_weight=settings.view_weight,
        impression_weight=settings.impression_weight,
    )


def ranking_params(settings: Settings) -> RankingParams:
    return RankingParams(
        candidates=settings.candidates,
        near_duplicate_threshold=settings.near_duplicate_threshold,
        popular_dedup_threshold=settings.popular_dedup_threshold,
        mmr_lambda=settings.mmr_lambda,
        freshness_half_life_days=settings.freshness_half_life_days,
        default_k_related=settings.default_k_related,
        popular_candidates=settings.popular_candidates,
    )


def default_weights(settings: Settings) -> Weights:
    return Weights(
        {
            "similarity": settings.weight_similarity,
            "popularity": settings.weight_popularity,
            "freshness": settings.weight_freshness,
            "same_section": settings.weight_same_section,
        }
    )


@dataclass(frozen=True)
class UpsertResult:
    upserted: int
    indexed: int


@dataclass(frozen=True)
class ReloadResult:
    swapped: bool
    folder: str | None
    reason: str
    replayed: int = 0
    seconds: float = 0.0


@dataclass
class RebuildJob:
    """A rebuild started through the admin API; read its fields under the service's job lock."""

    id: str
    status: Literal["running", "succeeded", "failed"] = "running"
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    finished_at: str | None = None
    folder: str | None = None
    count: int | None = None
    reused: int | None = None
    embedded: int | None = None
    seconds: float | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


class RecommenderService:
    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.store = Store(settings.db_path, settings.sqlite_synchronous)
        self.embedder = embedder or create_embedder(settings)
        self.catalog = Catalog()
        self.popularity = Popularity(popularity_config(settings))
        self.index = VectorIndex(self.embedder.dim, self.embedder.name)
        self.index_folder: Path | None = None
        self.weights = Weights.load(settings.resolved_ranker_path, default_weights(settings))
        self.ranker = Ranker(
            self.index, self.catalog, self.popularity, self.weights, ranking_params(settings)
        )
        # guards index, catalogue and popularity: faiss must not search while a row is added
        self._lock = threading.RLock()
        # one reload at a time (poller and admin endpoint); never held by a request
        self._reload_lock = threading.Lock()
        self._synced_seq = 0  # store changes up to here are in the catalogue
        self._failed_folder: Path | None = None  # a CURRENT that did not load: not retried
        self._watcher: threading.Thread | None = None
        self._stop = threading.Event()
        self._jobs_lock = threading.Lock()
        self._job: RebuildJob | None = None
        self._job_thread: threading.Thread | None = None
        self.ready = False

    @classmethod
    def from_parts(
        cls,
        settings: Settings,
        *,
        embedder: Embedder,
        catalog: Catalog,
        index: VectorIndex,
        popularity: Popularity,
    ) -> RecommenderService:
        """A ready service over pre-built parts (benchmarks, tests): nothing is loaded from the
        store, which stays empty at settings.db_path."""
        svc = cls(settings, embedder)
        svc.catalog = catalog
        svc.popularity = popularity
        svc.ranker = Ranker(index, catalog, popularity, svc.weights, ranking_params(settings))
        svc._set_index(index, None)
        svc.ready = True
        return svc

    # start-up ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Load everything from disk: catalogue, index (reconciled with the store), events."""
        started = time.perf_counter()
        self._synced_seq = self.store.max_seq()
        root = self.settings.index_root
        try:
            index, folder = load_serving_index(self.settings, self.embedder.name, self.embedder.dim)
            self._set_index(index, folder)
        except IndexNotFound as exc:
            # an index that exists but cannot be read is an operator's problem to see, not
            # something to paper over by embedding the whole store in memory
            if has_index_folders(root):
                raise
            published = self.store.count_published()
            if published > self.settings.max_articles_without_index:
                raise IndexNotFound(
                    f"no index under {root} and {published} published articles in the store; "
                    "run `recommender build` first"
                ) from exc
            log.warning("index.missing", extra={"reason": str(exc), "articles": published})
        # one pass over the store fills the catalogue and brings the index up to date
        reconciled = self._reconcile(self.index, catalog=True)
        counted = self.popularity.record_many(self.store.iter_events())
        self.ready = True
        log.info(
            "service.started",
            extra={
                "articles": len(self.catalog),
                "indexed": len(self.index),
                "reconciled": reconciled,
                "events_counted": counted,
                "seconds": round(time.perf_counter() - started, 2),
            },
        )

    def _set_index(self, index: VectorIndex, folder: Path | None) -> None:
        with self._lock:
            self.index = index
            self.index_folder = folder
            self.ranker.index = index

    def _reconcile(self, index: VectorIndex, since_seq: int = 0, catalog: bool = False) -> int:
        """Bring an index in line with the store: articles written after it was built (through
        the API, or while a build ran) are added, unpublished ones removed. With catalog, the
        cards of those articles are refreshed too (another process may have written them)."""
        stale: list[Article] = []
        gone: list[str] = []
        cards: list[Card] = []
        for article in self.store.iter_articles(since_seq=since_seq):
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
            with self._lock:
                index.upsert(embedded.ids, embedded.vectors, embedded.hashes)
        with self._lock:
            index.remove(gone)
            for card in cards:
                self.catalog.put(card)
        return len(stale) + len(gone)

    def swap_index(self, index: VectorIndex, folder: Path, since_seq: int) -> int:
        """Serve a freshly built index. Articles written while it was built are replayed onto it
        first (off the lock: requests keep using the old index meanwhile); the last few, written
        during that replay, under the lock at the switch."""
        seen = self.store.max_seq()
        changed = self._reconcile(index, min(since_seq, self._synced_seq), catalog=True)
        with self._lock:
            changed += self._reconcile(index, seen, catalog=True)
            self._set_index(index, folder)
            self._synced_seq = max(self._synced_seq, seen)
        return changed

    # index lifecycle ----------------------------------------------------------------------------

    def reload_if_changed(self, force: bool = False) -> ReloadResult:
        """Swap in the index CURRENT names when it is not the one serving. Loading and replay run
        on the caller's thread (the poller's or the admin request's), never a reader's; a folder
        that failed to load is not retried until CURRENT changes, unless forced."""
        with self._reload_lock:
            started = time.perf_counter()
            folder = current_folder(self.settings.index_root)
            if folder is None:
                return ReloadResult(False, None, "no CURRENT index pointer")
            if folder == self.index_folder:
                return ReloadResult(False, folder.name, "already serving")
            if folder == self._failed_folder and not force:
                return ReloadResult(False, folder.name, "failed to load before")
            try:
                index = VectorIndex.load(
                    folder, self.embedder.name, self.embedder.dim, self.settings.hnsw_ef_search
                )
            except (IndexNotFound, IndexMismatch) as exc:
                self._failed_folder = folder
                log.error("index.reload_failed", extra={"folder": str(folder), "reason": str(exc)})
                return ReloadResult(False, folder.name, str(exc))
            since = int(index.manifest.get("store_seq", 0))
            replayed = self.swap_index(index, folder, since)
            self._failed_folder = None
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

    def start_rebuild(self) -> RebuildJob:
        """Run a full build in a background thread, then swap it in. Raises BuildInProgress when
        one is already running. A failed build leaves the serving index as it was."""
        with self._jobs_lock:
            if self._job is not None and self._job.status == "running":
                raise BuildInProgress(f"rebuild {self._job.id} is still running")
            job = RebuildJob(id=uuid.uuid4().hex[:12])
            self._job = job
            self._job_thread = threading.Thread(
                target=self._run_rebuild, args=(job,), name=f"rebuild-{job.id}", daemon=True
            )
            self._job_thread.start()
        log.info("rebuild.started", extra={"job": job.id})
        return job

    def _run_rebuild(self, job: RebuildJob) -> None:
        try:
            result = build_index(self.settings, self.store, self.embedder)
            reload = self.reload_if_changed(force=True)
            if not reload.swapped and reload.folder != result.folder.name:
                raise IndexNotFound(f"built {result.folder.name} but could not serve it")
        except Exception as exc:
            reason = str(exc) if isinstance(exc, RecommenderError) else repr(exc)
            log.exception("rebuild.failed", extra={"job": job.id})
            with self._jobs_lock:
                job.status = "failed"
                job.error = reason
                job.finished_at = datetime.now(UTC).isoformat()
            return
        with self._jobs_lock:
            job.status = "succeeded"
            job.folder = result.folder.name
            job.count = result.count
            job.reused = result.reused
            job.embedded = result.embedded
            job.seconds = round(result.seconds, 3)
            job.finished_at = datetime.now(UTC).isoformat()
        log.info("rebuild.done", extra={"job": job.id, "folder": result.folder.name})

    def rebuild_status(self) -> dict[str, Any] | None:
        with self._jobs_lock:
            return None if self._job is None else self._job.as_dict()

    def wait_for_rebuild(self, timeout: float | None = None) -> None:
        thread = self._job_thread
        if thread is not None:
            thread.join(timeout)

    # writes -----------------------------------------------------------------------------------

    def upsert(self, articles: Sequence[Article]) -> UpsertResult:
        """Store articles durably, then make them recommendable at once."""
        published = [a for a in articles if a.is_published]
        # embed before the write: a model failure must not leave the store ahead of the index
        embedded = embed_articles(
            self.store, self.embedder, published, self.settings.embed_max_words
        )
        self.store.upsert_articles(articles)
        with self._lock:
            self.index.upsert(embedded.ids, embedded.vectors, embedded.hashes)
            self.index.remove([a.id for a in articles if not a.is_published])
            for article in articles:
                self.catalog.put(Card.of(article))
        return UpsertResult(len(articles), len(published))

    def unpublish(self, article_id: str) -> Article:
        article = self.store.get_article(article_id)
        if article is None:
            raise ArticleNotFound(f"no article with id {article_id!r}")
        article = article.model_copy(update={"status": "unpublished"})
        self.store.upsert_articles([article])
        with self._lock:
            self.index.remove([article_id])
            self.catalog.put(Card.of(article))
        return article

    def record_events(self, events: Sequence[Event]) -> int:
        self.store.add_events(events)
        with self._lock:
            return self.popularity.record_many(events)

    # reads ------------------------------------------------------------------------------------

    def related(
        self,
        article_id: str,
        k: int,
        *,
        section: str | None = None,
        max_age_days: float | None = None,
        exclude: Collection[str] = (),
    ) -> RankedList:
        with self._lock:
            return self.ranker.related(
                article_id, k, section=section, max_age_days=max_age_days, exclude=exclude
            )

    def related_by_url(
        self,
        url: str,
        k: int,
        *,
        section: str | None = None,
        max_age_days: float | None = None,
        exclude: Collection[str] = (),
    ) -> RankedList:
        """Lees ook for a page URL; an unknown URL gets the popular fallback, as an unknown id."""
        card = self.catalog.by_url(url)
        return self.related(
            card.id if card else f"url:{url}",
            k,
            section=section,
            max_age_days=max_age_days,
            exclude=exclude,
        )

    def popular(
        self,
        k: int,
        *,
        section: str | None = None,
        window: str = "decayed",
        exclude: Collection[str] = (),
        context: str | None = None,
    ) -> RankedList:
        with self._lock:
            return self.ranker.popular(
                k, section=section, window=window, exclude=exclude, context=context
            )

    def close(self) -> None:
        self.stop_watching()
        # a rebuild still running would find its store closed under it; give it a moment
        self.wait_for_rebuild(timeout=10)
        self.store.close()
