"""The result cache: ranked lists per (kind, article, parameters), bounded (LRU) and short-lived
(TTL), dropped exactly and at once when an article they depend on changes.

A list depends on its query article (or context article), on every article it lists and, for
Populair nieuws with a context, on the Lees-ook items it leaves out. Writes invalidate by article
id under the service lock, the same lock a miss computes and stores under, so no list computed
before a write can be stored after it. Popularity moves with every event and is not tracked:
a cached list shows it at most `ttl` seconds late.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass

from recommender.articles import Article
from recommender.catalog import Catalog
from recommender.ranking import RankedList


def url_key(url: str) -> str:
    """The id an unknown URL's fallback list is asked and cached under."""
    return f"url:{url.rstrip('/')}"


def changed_keys(catalog: Catalog, articles: Iterable[Article]) -> set[str]:
    """What a write of these articles invalidates: their ids, and the URLs (old and new) under
    which lists for a then unknown URL were cached. Read before the catalogue is updated."""
    keys: set[str] = set()
    for article in articles:
        keys.add(article.id)
        old = catalog.get(article.id)
        for url in (article.url, old.url if old else None):
            if url:
                keys.add(url_key(url))
    return keys


@dataclass(frozen=True, slots=True)
class CacheStats:
    hits: int
    misses: int
    invalidated: int
    evicted: int
    size: int

    @property
    def hit_ratio(self) -> float:
        looked = self.hits + self.misses
        return self.hits / looked if looked else 0.0


@dataclass(slots=True)
class _Entry:
    ranked: RankedList
    expires: float
    depends_on: frozenset[str]
    generation: int


class ResultCache:
    """LRU + TTL over ranked lists, with a reverse index article id → keys for invalidation."""

    def __init__(self, size: int, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self.ttl = ttl
        self._clock = clock
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._by_article: dict[str, set[Hashable]] = {}
        self._lock = threading.Lock()  # entries are read on the event loop, written anywhere
        self._hits = self._misses = self._invalidated = self._evicted = 0

    @property
    def enabled(self) -> bool:
        return self.size > 0 and self.ttl > 0

    def get(self, key: Hashable, generation: int) -> RankedList | None:
        """The cached list, or None (and a miss counted) when absent, expired or computed
        from another index generation."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.expires <= self._clock() or entry.generation != generation:
                if entry is not None:
                    self._drop(key)
                self._misses += 1
                return None
            self._entries.move_to_end(key)
            self._hits += 1
            return entry.ranked

    def put(
        self, key: Hashable, ranked: RankedList, depends_on: Iterable[str], generation: int
    ) -> None:
        if not self.enabled:
            return
        depends = frozenset(depends_on)
        with self._lock:
            if key in self._entries:
                self._drop(key)
            self._entries[key] = _Entry(ranked, self._clock() + self.ttl, depends, generation)
            for article_id in depends:
                self._by_article.setdefault(article_id, set()).add(key)
            while len(self._entries) > self.size:
                oldest = next(iter(self._entries))
                self._drop(oldest)
                self._evicted += 1

    def invalidate(self, article_ids: Iterable[str]) -> int:
        """Drop every list that depends on any of these articles; returns how many."""
        with self._lock:
            keys = set()
            for article_id in article_ids:
                keys |= self._by_article.get(article_id, set())
            for key in keys:
                self._drop(key)
            self._invalidated += len(keys)
            return len(keys)

    def clear(self) -> None:
        with self._lock:
            self._invalidated += len(self._entries)
            self._entries.clear()
            self._by_article.clear()

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(
                self._hits, self._misses, self._invalidated, self._evicted, len(self._entries)
            )

    def _drop(self, key: Hashable) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        for article_id in entry.depends_on:
            keys = self._by_article.get(article_id)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_article[article_id]
