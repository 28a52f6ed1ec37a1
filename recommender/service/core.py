"""The running recommender: store, embedder, catalogue, popularity and ranker, kept consistent
with each other. The API and the CLI both drive this one object, through its methods only."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from recommender.articles import Article
from recommender.build import BuildResult, build_index
from recommender.catalog import Card, Catalog, card_summary
from recommender.config import Settings
from recommender.embedding import Embedder, create_embedder, embed_articles
from recommender.errors import ArticleNotFound
from recommender.events import Event
from recommender.index import VectorIndex
from recommender.popularity import Popularity
from recommender.ranking import RankedList, Ranker
from recommender.ranking.ranker_file import read_ranker_file, served_half_life, served_weights
from recommender.ranking.variants import RankingVariant
from recommender.service.cache import CacheStats, ResultCache, changed_keys, url_key
from recommender.service.intake import EventIntake, EventsResult
from recommender.service.jobs import RebuildJob, RebuildJobs
from recommender.service.lifecycle import IndexLifecycle, ReloadResult
from recommender.service.online import OnlineEvaluation
from recommender.service.purge import PurgeHook
from recommender.store import Store, open_served_log, open_store

log = logging.getLogger(__name__)

BuildFunction = Callable[[Settings, Store, Embedder], BuildResult]


@dataclass(frozen=True)
class UpsertResult:
    upserted: int
    indexed: int


class RecommenderService:
    def __init__(
        self,
        settings: Settings,
        embedder: Embedder | None = None,
        *,
        build: BuildFunction = build_index,
        catalog: Catalog | None = None,
        popularity: Popularity | None = None,
        index: VectorIndex | None = None,
    ) -> None:
        """catalog, popularity and index: pre-built parts (benchmarks, tests); by default they
        start empty and `start` fills them from disk."""
        self.settings = settings
        self._store = open_store(settings)
        self._embedder = embedder or create_embedder(settings)
        self._catalog = catalog or Catalog()
        # read once: both the blend and the half-life come from the same ranker file
        ranker_file = read_ranker_file(settings.resolved_ranker_path)
        self._popularity = popularity or Popularity(
            settings.popularity_config(served_half_life(settings, ranker_file))
        )
        self._weights = served_weights(settings, ranker_file)
        self._ranker = Ranker(
            index or VectorIndex(self._embedder.dim, self._embedder.name),
            self._catalog,
            self._popularity,
            self._weights,
            settings.ranking_params(),
        )
        # guards index, catalogue and popularity: faiss must not search while a row is added
        self._lock = threading.RLock()
        self._lifecycle = IndexLifecycle(
            settings, self._store, self._embedder, self._catalog, self._ranker, self._lock
        )
        self._intake = EventIntake(
            settings, self._store, self._catalog, self._popularity, self._lock
        )
        self._online = OnlineEvaluation(settings, self._weights, open_served_log(settings))
        self._jobs = RebuildJobs(
            lambda: build(settings, self._store, self._embedder),
            self._lifecycle.reload_if_changed,
        )
        self._cache = ResultCache(settings.result_cache_size, settings.result_cache_ttl_seconds)
        self._purge = (
            PurgeHook(settings.purge_url, settings.purge_headers, settings.purge_timeout_seconds)
            if settings.purge_url
            else None
        )
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
        svc = cls(settings, embedder, catalog=catalog, popularity=popularity, index=index)
        svc._online.start()
        svc.ready = True
        return svc

    def start(self) -> None:
        """Load everything from disk: catalogue, index (reconciled with the store), events."""
        started = time.perf_counter()
        reconciled = self._lifecycle.load_at_start()
        counted = self._intake.replay()
        self._intake.start_snapshots()
        self._online.start()
        self.ready = True
        log.info(
            "service.started",
            extra={
                "articles": len(self._catalog),
                "indexed": len(self._ranker.index),
                "reconciled": reconciled,
                "events_counted": counted,
                "seconds": round(time.perf_counter() - started, 2),
            },
        )

    def save_state(self) -> None:
        """Snapshot popularity now (shutdown), so the next start replays only newer events."""
        if self.ready:
            self._intake.snapshot()

    def close(self) -> None:
        self._lifecycle.stop_watching()
        # a rebuild still running would find its store closed under it; give it a moment
        self._jobs.wait(timeout=10)
        if self.ready:
            self._intake.close()
        self._online.close()
        self._store.close()
        if self._purge is not None:
            self._purge.close()

    # index lifecycle and rebuilds --------------------------------------------------------------

    def reload_if_changed(self, force: bool = False) -> ReloadResult:
        return self._lifecycle.reload_if_changed(force)

    def start_watching(self, interval: float) -> None:
        self._lifecycle.start_watching(interval)

    def stop_watching(self) -> None:
        self._lifecycle.stop_watching()

    def start_rebuild(self) -> RebuildJob:
        return self._jobs.start()

    def rebuild_status(self) -> dict[str, Any] | None:
        return self._jobs.status()

    def wait_for_rebuild(self, timeout: float | None = None) -> None:
        self._jobs.wait(timeout)

    def health(self) -> dict[str, Any]:
        """What /health/ready reports of a started service."""
        return {
            **self._lifecycle.index_health(),
            "articles": len(self._catalog),
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
        self._store.upsert_articles(articles)
        with self._lock:
            index = self._ranker.index
            index.upsert(embedded.ids, embedded.vectors, embedded.hashes)
            index.remove([a.id for a in articles if not a.is_published])
            changed = changed_keys(self._catalog, articles)
            for article in articles:
                self._catalog.put(Card.of(article))
            self._cache.invalidate(changed)
        self._notify_purge(articles)
        return UpsertResult(len(articles), len(published))

    def unpublish(self, article_id: str) -> Article:
        article = self.get_article(article_id).model_copy(update={"status": "unpublished"})
        self._store.upsert_articles([article])
        with self._lock:
            self._ranker.index.remove([article_id])
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

    def record_events(self, events: Sequence[Event]) -> EventsResult:
        """Store and count events about live articles; the others allocate nothing."""
        self._release_due()
        return self._intake.record(events)

    # reads (each first lets embargoed articles whose time has come go live: a cheap peek) ----

    def _release_due(self) -> None:
        """Embargoed articles whose time has come go live; cached lists (ours, a CDN's) are
        dropped then, so the story shows at once rather than after their TTL. Rare: a clear."""
        released = self._catalog.release_if_due(self._lock)
        if released:
            self._cache.clear()
            if self._purge is not None:
                self._purge.notify(released)

    def get_article(self, article_id: str, live_only: bool = False) -> Article:
        """The stored article; live_only (the public view): only a published article whose
        time has come, any other is unknown."""
        self._release_due()
        article = self._store.get_article(article_id)
        if article is None or (live_only and not self._catalog.is_live(article_id)):
            raise ArticleNotFound(f"no article with id {article_id!r}")
        return article

    def card(self, article_id: str) -> Card | None:
        """What a list shows of an article (no text), from memory."""
        self._release_due()
        return self._catalog.get(article_id)

    def related(
        self,
        article_id: str,
        k: int,
        *,
        section: str | None = None,
        max_age_days: float | None = None,
        exclude: Collection[str] = (),
        session_id: str | None = None,
        variant: str | None = None,
    ) -> RankedList:
        """Lees ook in the reader's A/B variant (session_id), or the one a site asks for."""
        chosen = self._online.choose(session_id, variant)
        self._release_due()
        query = self._catalog.listed_id(article_id)  # a hidden article: as an unknown one
        ranked = self._related_in(
            chosen, query, k, section=section, max_age_days=max_age_days, exclude=exclude
        )
        card = self._catalog.get(article_id)
        self._online.record(ranked, article_id, card.section if card else None)
        return ranked

    def _related_in(
        self,
        chosen: RankingVariant,
        article_id: str,
        k: int,
        *,
        section: str | None = None,
        max_age_days: float | None = None,
        exclude: Collection[str] = (),
    ) -> RankedList:
        """Lees ook as one variant ranks it, from the result cache when there (not logged)."""
        key = ("related", chosen.name, article_id, k, section, max_age_days, frozenset(exclude))

        def rank() -> RankedList:
            ranked = self._ranker.variant(chosen.weights, chosen.params).related(
                article_id, k, section=section, max_age_days=max_age_days, exclude=exclude
            )
            ranked.variant = chosen.name
            return ranked

        return self._cached(key, rank)

    def related_by_url(
        self,
        url: str,
        k: int,
        *,
        section: str | None = None,
        max_age_days: float | None = None,
        exclude: Collection[str] = (),
        session_id: str | None = None,
        variant: str | None = None,
    ) -> RankedList:
        """Lees ook for a page URL; an unknown URL gets the popular fallback, as an unknown id."""
        card = self._catalog.by_url(url)
        return self.related(
            card.id if card else url_key(url),
            k,
            section=section,
            max_age_days=max_age_days,
            exclude=exclude,
            session_id=session_id,
            variant=variant,
        )

    def popular(
        self,
        k: int,
        *,
        section: str | None = None,
        window: str | None = None,
        exclude: Collection[str] = (),
        context: str | None = None,
        session_id: str | None = None,
        variant: str | None = None,
    ) -> RankedList:
        """Populair nieuws in the reader's A/B variant; window: the variant's, else decayed."""
        chosen = self._online.choose(session_id, variant)
        window = window or chosen.popular_window or "decayed"
        self._release_due()
        context = self._catalog.listed_id(context) if context else None
        key = ("popular", chosen.name, k, section, window, frozenset(exclude), context)

        def rank() -> RankedList:
            # the context's Lees ook as the page shows it (same variant, from the cache)
            shown = (
                self._related_in(chosen, context, self.settings.default_k_related)
                if context
                else None
            )
            ranked = self._ranker.variant(chosen.weights, chosen.params).popular(
                k, section=section, window=window, exclude=exclude, context=context, shown=shown
            )
            ranked.variant = chosen.name
            return ranked

        ranked = self._cached(key, rank)
        card = self._catalog.get(context) if context else None
        self._online.record(ranked, context, card.section if card else None)
        return ranked

    def _cached(self, key: tuple[object, ...], rank: Callable[[], RankedList]) -> RankedList:
        """A list from the result cache, or ranked and cached under the lock that writes
        invalidate under (so a list ranked before a write is never stored after it)."""
        cache = self._cache
        if cache.enabled:
            cached = cache.get(key, self._ranker.generation)
            if cached is not None:
                return cached
        with self._lock:
            ranked = rank()
            if cache.enabled:
                cache.put(key, ranked, ranked.article_ids(), self._ranker.generation)
            return ranked

    # online evaluation ------------------------------------------------------------------------

    def overview(self, k: int = 6) -> dict[str, Any]:
        """What the dashboard shows beside click-through: the top lists now (not logged as
        served), the index and its age."""
        with self._lock:
            top = {w: self._ranker.popular(k, window=w).items for w in ("decayed", "trending")}
            built_at = self._ranker.index.manifest.get("built_at")
        shown = {w: [card_summary(item.card) for item in items] for w, items in top.items()}
        return {"health": self.health(), "top": shown, "index_built_at": built_at}

    def ctr_stats(self, days: float = 14.0) -> dict[str, Any]:
        """Click-through per block, position, variant, section and day, with the A/B verdict."""
        return self._online.stats(self._store, days)
