"""Request and response models of the HTTP API, and the conversion of a ranked list."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import Request
from pydantic import BaseModel, Field

from recommender.articles import Article, ArticleId
from recommender.ranking import RankedList


class ItemOut(BaseModel):
    id: str
    url: str | None
    title: str
    section: str | None
    image: str | None
    published_at: datetime | None
    score: float
    reasons: dict[str, Any] | None = None


class RecommendationOut(BaseModel):
    recommendation_id: str
    kind: str
    fallback: bool = Field(
        description="true when the article was unknown and popular stories stand in"
    )
    variant: str = Field(
        default="default", description="the A/B variant that ranked the list (see /v1/stats/ctr)"
    )
    items: list[ItemOut]


class EventIn(BaseModel):
    type: Literal["view", "impression", "click"]
    article_id: ArticleId
    session_id: str | None = Field(default=None, max_length=200)
    recommendation_id: str | None = Field(default=None, max_length=100)
    position: int | None = Field(default=None, ge=0, le=1_000)
    ts: datetime | None = Field(default=None, description="event time; default: when received")
    event_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="the sender's id of this event: a batch sent again is stored and counted once",
    )


class EventBatch(BaseModel):
    events: list[EventIn] = Field(min_length=1)


class EventsOut(BaseModel):
    accepted: int = Field(description="events stored (about live articles)")
    rejected: int = Field(description="events about unknown or not (yet) published articles")
    counted: int = Field(description="accepted events that added to popularity")


class ErrorOut(BaseModel):
    """The body of every error answer."""

    error: str
    message: str
    detail: list[str] | None = None


class ArticleBatch(BaseModel):
    articles: list[Article] = Field(min_length=1)


class WriteResult(BaseModel):
    upserted: int
    indexed: int


def to_response(
    ranked: RankedList, explain: bool, request: Request | None = None
) -> RecommendationOut:
    items = [
        ItemOut(
            id=item.card.id,
            url=item.card.url,
            title=item.card.title,
            section=item.card.section,
            image=item.card.image,
            published_at=(
                datetime.fromtimestamp(item.card.published_ts, UTC)
                if item.card.published_ts
                else None
            ),
            score=round(item.score, 6),
            reasons=item.reasons if explain else None,
        )
        for item in ranked.items
    ]
    if ranked.fallback and request is not None:
        request.app.state.fallback_counter.inc()
    return RecommendationOut(
        recommendation_id=ranked.recommendation_id,
        kind=ranked.kind,
        fallback=ranked.fallback,
        variant=ranked.variant,
        items=items,
    )
