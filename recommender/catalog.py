"""The in-memory catalogue: what a recommendation list shows of each article, without its text,
so a request never touches the database."""

from __future__ import annotations

import bisect
import dataclasses
import heapq
import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from recommender.articles import Article

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Card:
    id: str
    title: str
    url: str | None
    section: str | None
    image: str | None
    published_ts: float | None
    published: bool
    tags: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()

    @classmethod
    def of(cls, article: Article) -> Card:
        return cls(
            id=article.id,
            title=article.title,
            url=article.url,
            section=article.section,
            image=article.image,
            published_ts=article.published_at.timestamp() if article.published_at else None,
            published=article.is_published,
            tags=tuple(article.tags),
            entities=tuple(article.entities),
        )


def card_summary(card: Card) -> dict[str, str | None]:
    """What the dashboard shows of a listed article."""
    return {"id": card.id, "title": card.title, "section": card.section}


class Catalog:
    """Cards by id and by url, plus the published ids newest first (for filling short lists).

    Embargo: a published card whose publication time is still ahead is kept as not published
    (so no list, URL lookup or page shows it) until `release_due` makes it live at its time."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._cards: dict[str, Card] = {}
        self._by_url: dict[str, str] = {}
        self._newest: list[tuple[float, str]] | None = None
        self._clock = clock
        self._embargoed: dict[str, Card] = {}  # the cards as they will go live
        self._schedule: list[tuple[float, str]] = []  # heap of (go-live time, id)

    def __len__(self) -> int:
        return len(self._cards)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._cards

    def get(self, article_id: str) -> Card | None:
        return self._cards.get(article_id)

    def by_url(self, url: str) -> Card | None:
        """The live article at this URL: an embargoed or unpublished page is not known by it."""
        card = self._cards.get(self._by_url.get(url.rstrip("/"), ""))
        return card if card is not None and card.published else None

    def put(self, card: Card) -> None:
        self._embargoed.pop(card.id, None)
        if card.published and card.published_ts is not None and card.published_ts > self._clock():
            self._embargoed[card.id] = card
            heapq.heappush(self._schedule, (card.published_ts, card.id))
            card = dataclasses.replace(card, published=False)
        self._show(card)

    def next_release(self) -> float | None:
        """When the next embargoed card goes live (None: none waits); a cheap peek."""
        return self._schedule[0][0] if self._schedule else None

    def release_due(self, now: float) -> list[str]:
        """Make every embargoed card whose time has come live; the ids released."""
        released: list[str] = []
        while self._schedule and self._schedule[0][0] <= now:
            ts, article_id = heapq.heappop(self._schedule)
            card = self._embargoed.get(article_id)
            if card is None or card.published_ts != ts:
                continue  # rescheduled or changed since: a stale entry
            del self._embargoed[article_id]
            self._show(card)
            released.append(article_id)
        return released

    def release_if_due(self, lock: AbstractContextManager[object]) -> list[str]:
        """release_due under the caller's lock, when anything is due (a cheap peek first)."""
        due = self.next_release()
        if due is None or due > self._clock():
            return []
        with lock:
            released = self.release_due(self._clock())
        log.info("articles.released", extra={"count": len(released), "ids": released[:20]})
        return released

    def is_live(self, article_id: str) -> bool:
        card = self._cards.get(article_id)
        return card is not None and card.published

    def listed_id(self, article_id: str) -> str:
        """The id to rank a list for: an article that exists but is not live (unpublished,
        embargoed) is answered as an unknown one, so its list reveals nothing of it."""
        return article_id if self.is_live(article_id) or article_id not in self else "unlisted:"

    def _show(self, card: Card) -> None:
        old = self._cards.get(card.id)
        if old is not None and old.url:
            self._by_url.pop(old.url.rstrip("/"), None)
        self._cards[card.id] = card
        if card.url:
            self._by_url[card.url.rstrip("/")] = card.id
        if self._newest is not None:
            self._newest = None if old is not None else self._newest
            if self._newest is not None and card.published:
                bisect.insort(self._newest, (-(card.published_ts or 0.0), card.id))

    def newest(self) -> list[tuple[float, str]]:
        """(-published_ts, id) of published articles, newest first; rebuilt lazily after edits."""
        if self._newest is None:
            self._newest = sorted(
                (-(c.published_ts or 0.0), c.id) for c in self._cards.values() if c.published
            )
        return self._newest

    def published_ids(self) -> list[str]:
        return [c.id for c in self._cards.values() if c.published]
