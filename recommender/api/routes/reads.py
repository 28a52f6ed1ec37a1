"""Reads: public and cheap. Async and lock-light: they run on the event loop without a thread
hop. The list routes validate their query string in one call (api/query.py) rather than through
FastAPI's per-parameter machinery, and answer pre-serialised bodies (api/http_cache.py). Their
successful GETs are answered before they get here, by api/lists.py's ListShortcut: these
routes answer the rest (the errors) and describe all of them in OpenAPI."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from recommender.api import lists
from recommender.api.clients import has_write_token
from recommender.api.deps import Service
from recommender.api.http_cache import list_response
from recommender.api.query import (
    PopularQuery,
    RelatedByUrlQuery,
    RelatedQuery,
    openapi,
    parsed,
)
from recommender.api.schemas import RecommendationOut
from recommender.articles import Article
from recommender.config import Settings
from recommender.service import RecommenderService

router = APIRouter(tags=["read"])
# the lists answer 304 to a matching If-None-Match (see api/http_cache.py)
NOT_MODIFIED: dict[int | str, dict[str, Any]] = {304: {"description": "Not modified"}}


@router.get(
    "/v1/articles/{article_id}/related",
    response_model=RecommendationOut,
    responses=NOT_MODIFIED,
    openapi_extra=openapi(RelatedQuery),
)
async def related(article_id: str, request: Request) -> Response:
    """Lees ook: articles related to this one. Unknown id → popular stories, fallback=true."""
    query = parsed(RelatedQuery, request)
    svc, settings = parts(request)
    ranked = lists.lees_ook(svc, settings, query, article_id=article_id)
    return list_response(request, ranked, query.explain, settings)


@router.get(
    "/v1/related",
    response_model=RecommendationOut,
    responses=NOT_MODIFIED,
    openapi_extra=openapi(RelatedByUrlQuery),
)
async def related_by_url(request: Request) -> Response:
    """Lees ook for sites that know the page URL, not the article id."""
    query = parsed(RelatedByUrlQuery, request)
    svc, settings = parts(request)
    return list_response(request, lists.lees_ook(svc, settings, query), query.explain, settings)


@router.get(
    "/v1/popular",
    response_model=RecommendationOut,
    responses=NOT_MODIFIED,
    openapi_extra=openapi(PopularQuery),
)
async def popular(request: Request) -> Response:
    """Populair nieuws. With context=<article id>, that article and its Lees-ook items are
    left out so the two blocks never repeat each other."""
    query = parsed(PopularQuery, request)
    svc, settings = parts(request)
    return list_response(request, lists.populair(svc, settings, query), query.explain, settings)


def parts(request: Request) -> tuple[RecommenderService, Settings]:
    """The service and settings, read directly: a FastAPI dependency costs more per request."""
    state = request.app.state
    svc: RecommenderService = state.service
    settings: Settings = state.settings
    return svc, settings


@router.get("/v1/articles/{article_id}", response_model=Article)
def get_article(article_id: str, svc: Service, request: Request) -> Article:
    """The stored article. Without the write token only a published article whose
    `published_at` has come is found (embargo); with it, any."""
    return svc.get_article(article_id, live_only=not has_write_token(request))
