"""The in-memory catalogue: what a recommendation list shows of each article, without its text,
so a request never touches the database."""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from recommender.articles import Article


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


class Catalog:
    """Cards by id and by url, plus the published ids newest first (for filling short lists)."""

    def __init__(self) -> None:
        self._cards: dict[str, Card] = {}
        self._by_url: dict[str, str] = {}
        self._newest: list[tuple[float, str]] | None = None

    def __len__(self) -> int:
        return len(self._cards)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._cards

    def get(self, article_id: str) -> Card | None:
        return self._cards.get(article_id)

    def by_url(self, url: str) -> Card | None:
        article_id = self._by_url.get(url.rstrip("/"))
        return None if article_id is None else self._cards.get(article_id)

    def put(self, card: Card) -> None:
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
