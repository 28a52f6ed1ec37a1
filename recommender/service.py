"""The running recommender: store, embedder, live index, catalogue, popularity and ranker, kept
consistent with each other. The API and the CLI both drive this one object."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from recommender.articles import Article, embedding_text, text_hash
from recommender.build import embed_articles, load_serving_index
from recommender.catalog import Card, Catalog
from recommender.config import Settings
from recommender.embedding import Embedder, create_embedder
from recommender.errors import ArticleNotFound, IndexNotFound
from recommender.index import VectorIndex, choose_kind
from recommender.popularity import Popularity, PopularityConfig
from recommender.ranking import RankedList, Ranker, RankingParams, Weights
from recommender.store import Event, Store

log = logging.getLogger(__name__)


def popularity_config(settings: Settings) -> PopularityConfig:
    return PopularityConfig(
        half_life_hours=settings.half_life_hours,
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
        self.ready = False

    # start-up ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Load everything from disk: catalogue, index (reconciled with the store), events."""
        started = time.perf_counter()
        for article in self.store.iter_articles():
            self.catalog.put(Card.of(article))
        try:
            index, folder = load_serving_index(self.settings, self.embedder.name, self.embedder.dim)
            self._set_index(index, folder)
        except IndexNotFound as exc:
            log.warning("index.missing", extra={"reason": str(exc)})
        reconciled = self._reconcile(self.index)
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

    def _reconcile(self, index: VectorIndex, since_seq: int = 0) -> int:
        """Bring an index in line with the store: articles written after it was built (through
        the API, or while a build ran) are added, unpublished ones removed."""
        stale: list[Article] = []
        gone: list[str] = []
        for article in self.store.iter_articles(since_seq=since_seq):
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
        return len(stale) + len(gone)

    def swap_index(self, index: VectorIndex, folder: Path, since_seq: int) -> int:
        """Serve a freshly built index. Articles written while it was built are replayed onto it
        first; the last few, written during that replay, under the lock at the switch."""
        seen = self.store.max_seq()
        changed = self._reconcile(index, since_seq)
        with self._lock:
            changed += self._reconcile(index, seen)
            self._set_index(index, folder)
        return changed

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

    def related_by_url(self, url: str, k: int, **filters: object) -> RankedList:
        card = self.catalog.by_url(url)
        return self.related(card.id if card else f"url:{url}", k, **filters)  # type: ignore[arg-type]

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

    def index_kind(self) -> str:
        return choose_kind(
            self.settings.index_type, len(self.catalog), self.settings.hnsw_threshold
        )

    def close(self) -> None:
        self.store.close()
