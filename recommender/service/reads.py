"""The lists the running service answers: Lees ook and Populair nieuws in the reader's A/B
variant, through the result cache, logged as served; and the online statistics over them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from typing import Any

from recommender.articles import Article
from recommender.catalog import Card, Catalog
from recommender.config import Settings
from recommender.errors import ArticleNotFound
from recommender.ranking import RankedList, Ranker
from recommender.ranking.variants import RankingVariant
from recommender.service.cache import ResultCache, url_key
from recommender.service.online import OnlineEvaluation
from recommender.service.purge import PurgeHook
from recommender.store import Store


class ListReads:
    """Mixed into RecommenderService, which sets these parts up and keeps them consistent."""

    settings: Settings
    _store: Store
    _catalog: Catalog
    _ranker: Ranker
    _lock: threading.RLock
    _cache: ResultCache
    _online: OnlineEvaluation
    _purge: PurgeHook | None

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

    def overview(self, k: int = 6) -> dict[str, Any]:
        """What the dashboard shows beside click-through: the top lists now (not logged as
        served), the index and its age."""
        with self._lock:
            top = {
                window: [
                    {"id": item.card.id, "title": item.card.title, "section": item.card.section}
                    for item in self._ranker.popular(k, window=window).items
                ]
                for window in ("decayed", "trending")
            }
            built_at = self._ranker.index.manifest.get("built_at")
        return {"top": top, "index_built_at": built_at}

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

    def ctr_stats(self, days: float = 14.0) -> dict[str, Any]:
        """Click-through per block, position, variant, section and day, with the A/B verdict."""
        return self._online.stats(self._store, days)
