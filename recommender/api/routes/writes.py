"""Writes: events (public, the browser sends them) and articles (bearer token)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from fastapi import APIRouter, Request

from recommender.api import prometheus
from recommender.api.clients import check_rate, client_address, has_write_token
from recommender.api.deps import Auth, Config, Service
from recommender.api.schemas import (
    ArticleBatch,
    EventBatch,
    EventIn,
    EventsOut,
    WriteResult,
)
from recommender.articles import Article
from recommender.errors import InvalidInput
from recommender.events import Event
from recommender.readers import reader_session

router = APIRouter(tags=["write"])


@router.post("/v1/events", status_code=202, response_model=EventsOut)
def post_events(batch: EventBatch, svc: Service, settings: Config, request: Request) -> EventsOut:
    """A batch of view/impression/click events. Public (the browser sends it), validated,
    size- and rate-limited per client; acknowledged events are durable. Events about unknown,
    unpublished or not yet published articles are rejected (counted in `rejected`)."""
    if len(batch.events) > settings.max_events_per_batch:
        raise InvalidInput(f"at most {settings.max_events_per_batch} events per batch")
    trusted = has_write_token(request)
    client = None
    if not trusted:
        client = request.app.state.client_keys.of(client_address(request, settings))
        check_rate(request, client, len(batch.events))
    now = time.time()
    events = [_event(item, now, client, settings.event_clock_skew_seconds) for item in batch.events]
    result = svc.record_events(events)
    prometheus.count_events(request.app, result.accepted)
    return EventsOut(accepted=result.accepted, rejected=result.rejected, counted=result.counted)


def _event(item: EventIn, now: float, client: str | None, skew: float) -> Event:
    """The server's receive time is authoritative for a public event: a client's own time is
    clamped into [now - skew, now], so back-dating cannot step around de-duplication, and the
    session carries the client's key (see readers.py). With the token, both are kept as sent."""
    ts = now if item.ts is None else _seconds(item.ts)
    session = item.session_id
    # event ids are per sender, so one client cannot void another's events by guessing them
    event_id = f"{client or 'token'}:{item.event_id}" if item.event_id else None
    if client is not None:
        ts = min(now, max(now - skew, ts))
        session = reader_session(client, session)
    return Event(
        ts, item.type, item.article_id, session, item.recommendation_id, item.position, event_id
    )


def _seconds(value: datetime) -> float:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


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
