"""Request and response models of the HTTP API (the list bodies themselves are written by
api/http_cache.py in the shape RecommendationOut documents)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from recommender.articles import Article, ArticleId


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
