"""Reads: public and cheap. Async and lock-light: they run on the event loop without a thread
hop."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from recommender.api.clients import has_write_token
from recommender.api.deps import (
    Config,
    Exclude,
    KParam,
    MaxAge,
    Section,
    Service,
    SessionId,
    VariantName,
    check_k,
    parse_exclude,
)
from recommender.api.http_cache import list_response
from recommender.api.schemas import RecommendationOut
from recommender.articles import Article
from recommender.errors import InvalidInput
from recommender.popularity import WINDOWS

router = APIRouter(tags=["read"])
# the lists answer 304 to a matching If-None-Match (see api/http_cache.py)
NOT_MODIFIED: dict[int | str, dict[str, Any]] = {304: {"description": "Not modified"}}


@router.get(
    "/v1/articles/{article_id}/related", response_model=RecommendationOut, responses=NOT_MODIFIED
)
async def related(
    article_id: str,
    svc: Service,
    settings: Config,
    request: Request,
    k: KParam = None,
    section: Section = None,
    max_age_days: MaxAge = None,
    exclude: Exclude = None,
    explain: bool = False,
    session_id: SessionId = None,
    variant: VariantName = None,
) -> Response:
    """Lees ook: articles related to this one. Unknown id → popular stories, fallback=true."""
    ranked = svc.related(
        article_id,
        check_k(k, settings.default_k_related, settings),
        section=section,
        max_age_days=max_age_days,
        exclude=parse_exclude(exclude),
        session_id=session_id,
        variant=variant,
    )
    return list_response(request, ranked, explain, settings)


@router.get("/v1/related", response_model=RecommendationOut, responses=NOT_MODIFIED)
async def related_by_url(
    svc: Service,
    settings: Config,
    request: Request,
    url: Annotated[str, Query(min_length=1, max_length=2_000)],
    k: KParam = None,
    section: Section = None,
    max_age_days: MaxAge = None,
    exclude: Exclude = None,
    explain: bool = False,
    session_id: SessionId = None,
    variant: VariantName = None,
) -> Response:
    """Lees ook for sites that know the page URL, not the article id."""
    ranked = svc.related_by_url(
        url,
        check_k(k, settings.default_k_related, settings),
        section=section,
        max_age_days=max_age_days,
        exclude=parse_exclude(exclude),
        session_id=session_id,
        variant=variant,
    )
    return list_response(request, ranked, explain, settings)


@router.get("/v1/popular", response_model=RecommendationOut, responses=NOT_MODIFIED)
async def popular(
    svc: Service,
    settings: Config,
    request: Request,
    k: KParam = None,
    section: Section = None,
    window: Annotated[
        str | None, Query(description=f"one of {', '.join(WINDOWS)}; default: decayed")
    ] = None,
    exclude: Exclude = None,
    context: Annotated[str | None, Query(max_length=200)] = None,
    explain: bool = False,
    session_id: SessionId = None,
    variant: VariantName = None,
) -> Response:
    """Populair nieuws. With context=<article id>, that article and its Lees-ook items are
    left out so the two blocks never repeat each other."""
    if window is not None and window not in WINDOWS:
        raise InvalidInput(f"window must be one of {', '.join(WINDOWS)}")
    ranked = svc.popular(
        check_k(k, settings.default_k_popular, settings),
        section=section,
        window=window,
        exclude=parse_exclude(exclude),
        context=context,
        session_id=session_id,
        variant=variant,
    )
    return list_response(request, ranked, explain, settings)


@router.get("/v1/articles/{article_id}", response_model=Article)
def get_article(article_id: str, svc: Service, request: Request) -> Article:
    """The stored article. Without the write token only a published article whose
    `published_at` has come is found (embargo); with it, any."""
    return svc.get_article(article_id, live_only=not has_write_token(request))
