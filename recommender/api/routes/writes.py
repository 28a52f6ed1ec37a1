"""Writes: events (public, the browser sends them) and articles (bearer token)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request

from recommender.api import prometheus
from recommender.api.deps import Auth, Config, Service
from recommender.api.schemas import ArticleBatch, EventBatch, WriteResult
from recommender.articles import Article
from recommender.errors import InvalidInput
from recommender.events import Event

router = APIRouter(tags=["write"])


@router.post("/v1/events", status_code=202)
def post_events(
    batch: EventBatch, svc: Service, settings: Config, request: Request
) -> dict[str, int]:
    """A batch of view/impression/click events. Public (the browser sends it), validated
    and size-limited; acknowledged events are durable."""
    if len(batch.events) > settings.max_events_per_batch:
        raise InvalidInput(f"at most {settings.max_events_per_batch} events per batch")
    now = datetime.now(UTC)
    events = []
    for event in batch.events:
        ts = event.ts.astimezone(UTC) if event.ts and event.ts.tzinfo else event.ts
        if ts is None:
            ts = now
        elif ts.tzinfo is None:
            ts = ts.replace(tzinfo=UTC)
        if ts > now + timedelta(minutes=5):
            raise InvalidInput(f"event time {ts.isoformat()} is in the future")
        events.append(
            Event(
                ts.timestamp(),
                event.type,
                event.article_id,
                event.session_id,
                event.recommendation_id,
                event.position,
            )
        )
    counted = svc.record_events(events)
    prometheus.count_events(request.app, len(events))
    return {"accepted": len(events), "counted": counted}


@router.put("/v1/articles/{article_id}", response_model=WriteResult, dependencies=[Auth])
def put_article(article_id: str, article: Article, svc: Service) -> WriteResult:
    """Publish or update one article; it is recommendable as soon as this returns."""
    if article.id != article_id:
        raise InvalidInput(
            f"id in the body ({article.id!r}) differs from the path ({article_id!r})"
        )
    result = svc.upsert([article])
    return WriteResult(upserted=result.upserted, indexed=result.indexed)


@router.post("/v1/articles", response_model=WriteResult, dependencies=[Auth])
def post_articles(batch: ArticleBatch, svc: Service, settings: Config) -> WriteResult:
    """Batch upsert."""
    if len(batch.articles) > settings.max_articles_per_batch:
        raise InvalidInput(f"at most {settings.max_articles_per_batch} articles per batch")
    result = svc.upsert(batch.articles)
    return WriteResult(upserted=result.upserted, indexed=result.indexed)


@router.delete("/v1/articles/{article_id}", dependencies=[Auth])
def delete_article(article_id: str, svc: Service) -> dict[str, str]:
    """Unpublish: the article leaves every list at once; its record is kept."""
    svc.unpublish(article_id)
    return {"id": article_id, "status": "unpublished"}
