"""The running recommender: store, embedder, catalogue, popularity and ranker, kept consistent
with each other. The API and the CLI both drive this one object, through its methods only."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from recommender.articles import Article
from recommender.build import BuildResult, build_index
from recommender.catalog import Card, Catalog
from recommender.config import Settings
from recommender.coreads import CoReads
from recommender.embedding import Embedder, create_embedder, embed_articles
from recommender.errors import SharedStateUnavailable
from recommender.events import Event
from recommender.index import VectorIndex
from recommender.lexical import LexicalSearch
from recommender.lexical.analysis import warm_language_model
from recommender.popularity import PopularityCounters
from recommender.ranking import Ranker
from recommender.ranking.ranker_file import read_ranker_file, served_half_life, served_weights
from recommender.redis_coreads import RedisCoReads
from recommender.redis_state import RedisPopularity
from recommender.service import heap
from recommender.service.cache import CacheStats, ResultCache, changed_keys
from recommender.service.compaction import PeriodicCompaction
from recommender.service.index_calls import IndexCalls
from recommender.service.intake import EventIntake, EventsResult
from recommender.service.jobs import TUNE_FIELDS, BackgroundJobs, RebuildJobs
from recommender.service.lifecycle import IndexLifecycle
from recommender.service.online import OnlineEvaluation
from recommender.service.purge import purge_hook_of
from recommender.service.reads import ListReads
from recommender.service.shared import SharedUpkeep, open_coreads, open_feed, open_popularity
from recommender.service.tune_jobs import TuneJobsMixin
from recommender.store import Store, open_served_log, open_store
from recommender.tuning import TuneResult, run_tune

log = logging.getLogger(__name__)

BuildFunction = Callable[[Settings, Store, Embedder], BuildResult]
TuneFunction = Callable[..., TuneResult]


@dataclass(frozen=True)
class UpsertResult:
    upserted: int
    indexed: int


class RecommenderService(ListReads, IndexCalls, TuneJobsMixin):
    def __init__(
        self,
        settings: Settings,
        embedder: Embedder | None = None,
        *,
        build: BuildFunction = build_index,
        tune: TuneFunction = run_tune,
        catalog: Catalog | None = None,
        popularity: PopularityCounters | None = None,
        index: VectorIndex | None = None,
        lexical: LexicalSearch | None = None,
        coreads: CoReads | RedisCoReads | None = None,
    ) -> None:
        """Pre-built parts (benchmarks, tests), else empty parts that `start` fills from disk."""
        self.settings = settings
        self._store = open_store(settings)
        self._embedder = embedder or create_embedder(settings)
        self._catalog = catalog or Catalog()
        # read once: both the blend and the half-life come from the same ranker file
        ranker_file = read_ranker_file(settings.resolved_ranker_path)
        # "readers of this story also read": counted from the same events as popularity (an
        # empty table is falsy: hence `is None`)
        self._coreads = open_coreads(settings) if coreads is None else coreads
        self._popularity = popularity or open_popularity(
            settings,
            settings.popularity_config(served_half_life(settings, ranker_file)),
            self._coreads,
        )
        shared = self._popularity if isinstance(self._popularity, RedisPopularity) else None
        self._feed = open_feed(settings)
        self._weights = served_weights(settings, ranker_file)
        index = index or VectorIndex(self._embedder.dim, self._embedder.name)
        index.keep_neighbours(settings.neighbour_lists)  # Lees-ook candidates without a search
        self._ranker = Ranker(
            index,
            self._catalog,
            self._popularity,
            self._weights,
            settings.ranking_params(),
            lexical=lexical
            or LexicalSearch(settings.lexical_max_words, lists=settings.lexical_lists_config()),
            coreads=self._coreads,
        )
        # guards index, catalogue and popularity: faiss must not search while a row is added
        self._lock = threading.RLock()
        self._lifecycle = IndexLifecycle(
            settings, self._store, self._embedder, self._catalog, self._ranker, self._lock
        )
        self._online = OnlineEvaluation(settings, self._weights, open_served_log(settings))
        self._wire_events(shared)
        self._jobs = RebuildJobs(
            lambda: build(settings, self._store, self._embedder),
            self._lifecycle.reload_if_changed,
        )
        self._cache = ResultCache(settings.result_cache_size, settings.result_cache_ttl_seconds)
        self._purge = purge_hook_of(
            settings.purge_url, settings.purge_headers, settings.purge_timeout_seconds
        )
        self._tune = tune
        self._tune_jobs = BackgroundJobs("tune", TUNE_FIELDS)
        self.ready = False

    def _wire_events(self, shared: RedisPopularity | None) -> None:
        """Events: stored, then counted in process or in Redis (kept up by the upkeep)."""
        settings = self.settings
        self._upkeep = SharedUpkeep(
            self._store, self._lifecycle, shared, self._feed, settings.feed_poll_seconds
        )
        # Redis counters are safe on their own: no round trip under the service lock
        self._count_lock: AbstractContextManager[Any] = nullcontext() if shared else self._lock
        self._compaction = PeriodicCompaction(self._store, settings)
        self._intake = EventIntake(
            settings,
            self._store,
            self._catalog,
            self._popularity,
            self._count_lock,
            # co-reads in Redis count in the counters' transaction; these are this process's
            on_stored=self._record_coreads if isinstance(self._coreads, CoReads) else None,
            coreads=self._coreads if isinstance(self._coreads, CoReads) else None,
        )

    @classmethod
    def from_parts(
        cls, settings: Settings, *, embedder: Embedder, **parts: Any
    ) -> RecommenderService:
        """A ready service over pre-built parts (benchmarks, tests; the keywords of __init__:
        catalog, index, popularity, lexical, coreads): nothing is loaded from the store, which
        stays empty at settings.db_path."""
        svc = cls(settings, embedder, **parts)
        svc._online.start()
        if settings.gc_freeze:
            heap.settle()
        svc.ready = True
        return svc

    def start(self, ready_for_writes: bool = True) -> None:
        """Load everything from disk: catalogue, index (reconciled with the store), events;
        ready_for_writes: the language identifier too (~2 s; commands that only read skip it),
        so a fresh article (ours, or another replica's) is analysed at once."""
        started = time.perf_counter()
        language_model = warm_language_model() if ready_for_writes else None
        reconciled = self._lifecycle.load_at_start()
        index_seconds = time.perf_counter() - started
        if self._upkeep.popularity is None:
            # popularity and co-reads from the snapshot on, when there is one
            counted = self._intake.replay()
            self._intake.start_snapshots()
        else:  # shared counters already hold the log; fill them only when Redis is empty
            # co-reads in Redis ride with the counters (RedisPopularity.riders): no replay;
            # a table passed in (tests, tools) still learns the log here
            counted = self._upkeep.count_backlog()
            if isinstance(self._coreads, CoReads):
                self._coreads.record_many(self._store.iter_events())
        self._online.start()
        self._compaction.start()
        if language_model is not None:
            language_model.join()
        if self.settings.gc_freeze:
            heap.settle()
        self.ready = True
        log.info(
            "service.started",
            extra={
                "articles": len(self._catalog),
                "indexed": len(self._ranker.index),
                "reconciled": reconciled,
                "events_counted": counted,
                # the breakdown: index and catalogue, then popularity and co-reads
                "index_seconds": round(index_seconds, 2),
                "seconds": round(time.perf_counter() - started, 2),
            },
        )

    def save_state(self) -> None:
        """Snapshot popularity now (shutdown), so the next start replays only newer events."""
        if self.ready:
            self._intake.snapshot()

    def close(self) -> None:
        self._lifecycle.stop_watching()
        self._upkeep.stop()
        self._compaction.stop()
        # a rebuild still running would find its store closed under it; give it a moment
        self._jobs.wait(timeout=10)
        self._tune_jobs.wait(timeout=10)
        if self.ready:
            self._intake.close()
        self._online.close()
        self._store.close()
        if self._purge is not None:
            self._purge.close()

    def health(self) -> dict[str, Any]:
        """What /health/ready reports of a started service."""
        stores = (self._store.health_problem(), self._popularity.health_problem())
        problems = [problem for problem in (*stores, self._lifecycle.degraded) if problem]
        return {
            # degraded: reads still serve from local state (see README, "Replicas")
            "status": "degraded" if problems else "ready",
            "reasons": problems,
            "articles": len(self._catalog),
            **self._lifecycle.index_health(),
            "model": self._embedder.name,
            # "settings" when no usable file is at ranker_path: the operator sees which
            "ranker": self._weights.source,
            "variants": [v.name for v in self._online.variants],
            "ranker_path": str(self.settings.resolved_ranker_path),
        }

    # writes -----------------------------------------------------------------------------------

    def upsert(self, articles: Sequence[Article]) -> UpsertResult:
        """Store articles durably, then make them recommendable at once."""
        published = [a for a in articles if a.is_published]
        # embed before the write: a model failure must not leave the store ahead of the index
        embedded = embed_articles(
            self._store, self._embedder, published, self.settings.embed_max_words
        )
        lexical = self._lifecycle.lexical.prepare(articles)  # analysed off the lock
        self._publish(self._store.upsert_articles(articles))
        # the product with every stored vector (~0.2-0.4 s at 1M) off the lock: reads go on
        prepared = self._ranker.index.prepare_upsert(embedded.vectors, self._lock)
        with self._lock:
            index = self._ranker.index
            index.upsert(embedded.ids, embedded.vectors, embedded.hashes, prepared)
            index.remove([a.id for a in articles if not a.is_published])
            self._lifecycle.lexical.apply(lexical)
            changed = changed_keys(self._catalog, articles)
            for article in articles:
                self._catalog.put(Card.of(article))
            self._cache.invalidate(changed)
        self._notify_purge(articles)
        return UpsertResult(len(articles), len(published))

    def unpublish(self, article_id: str) -> Article:
        article = self.get_article(article_id).model_copy(update={"status": "unpublished"})
        self._publish(self._store.upsert_articles([article]))
        with self._lock:
            self._ranker.index.remove([article_id])
            self._lifecycle.lexical.remove([article_id])
            self._catalog.put(Card.of(article))
            self._cache.invalidate([article_id])
        self._notify_purge([article])
        return article

    def _notify_purge(self, articles: Sequence[Article]) -> None:
        if self._purge is not None:
            self._purge.notify(a.id for a in articles)

    def cache_stats(self) -> CacheStats:
        return self._cache.stats()

    def wait_for_purges(self, timeout: float = 10.0) -> bool:
        """Block until the purge hook has sent everything queued (tests, operators)."""
        return self._purge is None or self._purge.wait_idle(timeout)

    def _publish(self, seq: int) -> None:
        """Tell the other replicas; if Redis is down they catch up by polling the store."""
        if self._feed is not None:
            try:
                self._feed.publish(seq)
            except SharedStateUnavailable as exc:
                log.warning("feed.publish_failed", extra={"seq": seq, "reason": str(exc)})

    def record_events(self, events: Sequence[Event]) -> EventsResult:
        """Store and count events about live articles; the others allocate nothing."""
        self._release_due()
        return self._intake.record(events)

    def _record_coreads(self, events: Sequence[Event]) -> None:
        assert isinstance(self._coreads, CoReads)  # wired only for the in-process table
        with self._lock:
            self._coreads.record_many(events)  # in memory: never deferred
