"""HTTP API: create_app(settings) builds the FastAPI app. Routes stay thin; the service does
the work. Reads are public and cheap; writes need the bearer token."""

import json
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from recommender import __version__, admin, metrics_http, pages
from recommender.articles import Article, ArticleId
from recommender.config import Settings
from recommender.errors import (
    ArticleNotFound,
    BuildInProgress,
    IndexMismatch,
    IndexNotFound,
    InvalidInput,
    RecommenderError,
)
from recommender.events import Event
from recommender.popularity import WINDOWS
from recommender.ranking import RankedList
from recommender.service import RecommenderService

log = logging.getLogger(__name__)

# the one place domain errors become HTTP status codes; anything else named is a 400
STATUS_OF: dict[type[RecommenderError], int] = {
    ArticleNotFound: 404,
    InvalidInput: 422,
    IndexMismatch: 500,
    IndexNotFound: 503,
    BuildInProgress: 409,
}


def status_of(exc: RecommenderError) -> int:
    return next((code for kind, code in STATUS_OF.items() if isinstance(exc, kind)), 400)


# response and request models ----------------------------------------------------------------


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
    items: list[ItemOut]


class EventIn(BaseModel):
    type: Literal["view", "impression", "click"]
    article_id: ArticleId
    session_id: str | None = Field(default=None, max_length=200)
    recommendation_id: str | None = Field(default=None, max_length=100)
    position: int | None = Field(default=None, ge=0, le=1_000)
    ts: datetime | None = Field(default=None, description="event time; default: when received")


class EventBatch(BaseModel):
    events: list[EventIn] = Field(min_length=1)


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
        items=items,
    )


# middleware ---------------------------------------------------------------------------------


class BodyLimit:
    """Refuse bodies over the limit with 413 before the app parses them, whether the client sends
    a Content-Length or streams chunks. The body is buffered (at most max_bytes) and replayed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._refuse(send)
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        message = f"request body is larger than allowed ({self.max_bytes} bytes)"
        body = json.dumps({"error": "PayloadTooLarge", "message": message}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})


# the app ------------------------------------------------------------------------------------


def create_app(settings: Settings, service: RecommenderService | None = None) -> FastAPI:
    """The API over a service; without one, the service is built and loaded at start-up."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = service is None
        svc = service or RecommenderService(settings)
        if not svc.ready:
            svc.start()
        app.state.service = svc
        svc.start_watching(settings.index_poll_seconds)
        yield
        svc.stop_watching()
        if owned:
            svc.close()

    app = FastAPI(
        title="recommender",
        version=__version__,
        description="Related (Lees ook) and popular (Populair nieuws) articles for news sites.",
        lifespan=lifespan,
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        # the widget's click beacons go out with credentials; we authenticate with bearer tokens,
        # never cookies, so allowing credentials exposes nothing
        allow_credentials=True,
        allow_methods=["GET", "POST", "PUT", "DELETE"],
        allow_headers=["Authorization", "Content-Type"],
    )
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    metrics_http.install(app)
    bearer = HTTPBearer(auto_error=False)

    async def get_service(request: Request) -> RecommenderService:
        # async: FastAPI runs a plain-def dependency in the thread pool, a thread hop on every
        # request that cost ~9% of /related's CPU under load (py-spy, BENCHMARKS.md)
        svc: RecommenderService = request.app.state.service
        return svc

    def require_token(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> None:
        if settings.api_token is None:
            raise _HTTPError(
                503, "WritesDisabled", "writes are disabled: set RECOMMENDER_API_TOKEN"
            )
        if credentials is None:
            raise _HTTPError(401, "Unauthorized", "missing bearer token")
        expected = settings.api_token.get_secret_value().encode()
        if not secrets.compare_digest(credentials.credentials.encode(), expected):
            raise _HTTPError(403, "Forbidden", "invalid bearer token")

    Service = Annotated[RecommenderService, Depends(get_service)]
    Auth = Depends(require_token)

    def check_k(k: int) -> int:
        if not 1 <= k <= settings.max_k:
            raise InvalidInput(f"k must be between 1 and {settings.max_k}, got {k}")
        return k

    def parse_exclude(exclude: str | None) -> set[str]:
        ids = {part.strip() for part in (exclude or "").split(",") if part.strip()}
        if len(ids) > 200:
            raise InvalidInput("exclude lists at most 200 ids")
        return ids

    KParam = Annotated[int | None, Query(description="number of items")]
    Section = Annotated[str | None, Query(max_length=100)]
    Exclude = Annotated[str | None, Query(max_length=20_000, description="comma-separated ids")]

    @app.exception_handler(RecommenderError)
    async def recommender_error(_: Request, exc: RecommenderError) -> JSONResponse:
        return JSONResponse({"error": type(exc).__name__, "message": str(exc)}, status_of(exc))

    @app.exception_handler(_HTTPError)
    async def http_error(_: Request, exc: _HTTPError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status in (401, 403) else None
        return JSONResponse(
            {"error": exc.name, "message": exc.message}, exc.status, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()))
            problems.append(f"{where}: {err.get('msg')}")
        return JSONResponse(
            {"error": "InvalidInput", "message": "; ".join(problems[:10]), "detail": problems[:50]},
            422,
        )

    # reads: async and lock-light, they run on the event loop without a thread hop

    @app.get("/v1/articles/{article_id}/related", response_model=RecommendationOut, tags=["read"])
    async def related(
        article_id: str,
        svc: Service,
        request: Request,
        k: KParam = None,
        section: Section = None,
        max_age_days: Annotated[float | None, Query(gt=0, le=36_500)] = None,
        exclude: Exclude = None,
        explain: bool = False,
    ) -> RecommendationOut:
        """Lees ook: articles related to this one. Unknown id → popular stories, fallback=true."""
        ranked = svc.related(
            article_id,
            check_k(settings.default_k_related if k is None else k),
            section=section,
            max_age_days=max_age_days,
            exclude=parse_exclude(exclude),
        )
        return to_response(ranked, explain, request)

    @app.get("/v1/related", response_model=RecommendationOut, tags=["read"])
    async def related_by_url(
        svc: Service,
        request: Request,
        url: Annotated[str, Query(min_length=1, max_length=2_000)],
        k: KParam = None,
        section: Section = None,
        max_age_days: Annotated[float | None, Query(gt=0, le=36_500)] = None,
        exclude: Exclude = None,
        explain: bool = False,
    ) -> RecommendationOut:
        """Lees ook for sites that know the page URL, not the article id."""
        ranked = svc.related_by_url(
            url,
            check_k(settings.default_k_related if k is None else k),
            section=section,
            max_age_days=max_age_days,
            exclude=parse_exclude(exclude),
        )
        return to_response(ranked, explain, request)

    @app.get("/v1/popular", response_model=RecommendationOut, tags=["read"])
    async def popular(
        svc: Service,
        k: KParam = None,
        section: Section = None,
        window: Annotated[str, Query(description=f"one of {', '.join(WINDOWS)}")] = "decayed",
        exclude: Exclude = None,
        context: Annotated[str | None, Query(max_length=200)] = None,
        explain: bool = False,
    ) -> RecommendationOut:
        """Populair nieuws. With context=<article id>, that article and its Lees-ook items are
        left out so the two blocks never repeat each other."""
        if window not in WINDOWS:
            raise InvalidInput(f"window must be one of {', '.join(WINDOWS)}")
        ranked = svc.popular(
            check_k(settings.default_k_popular if k is None else k),
            section=section,
            window=window,
            exclude=parse_exclude(exclude),
            context=context,
        )
        return to_response(ranked, explain)

    @app.get("/v1/articles/{article_id}", response_model=Article, tags=["read"])
    def get_article(article_id: str, svc: Service) -> Article:
        return svc.get_article(article_id)

    # writes

    @app.post("/v1/events", status_code=202, tags=["write"])
    def post_events(batch: EventBatch, svc: Service) -> dict[str, int]:
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
        return {"accepted": len(events), "counted": counted}

    @app.put(
        "/v1/articles/{article_id}", response_model=WriteResult, dependencies=[Auth], tags=["write"]
    )
    def put_article(article_id: str, article: Article, svc: Service) -> WriteResult:
        """Publish or update one article; it is recommendable as soon as this returns."""
        if article.id != article_id:
            raise InvalidInput(
                f"id in the body ({article.id!r}) differs from the path ({article_id!r})"
            )
        result = svc.upsert([article])
        return WriteResult(upserted=result.upserted, indexed=result.indexed)

    @app.post("/v1/articles", response_model=WriteResult, dependencies=[Auth], tags=["write"])
    def post_articles(batch: ArticleBatch, svc: Service) -> WriteResult:
        """Batch upsert."""
        if len(batch.articles) > settings.max_articles_per_batch:
            raise InvalidInput(f"at most {settings.max_articles_per_batch} articles per batch")
        result = svc.upsert(batch.articles)
        return WriteResult(upserted=result.upserted, indexed=result.indexed)

    @app.delete("/v1/articles/{article_id}", dependencies=[Auth], tags=["write"])
    def delete_article(article_id: str, svc: Service) -> dict[str, str]:
        """Unpublish: the article leaves every list at once; its record is kept."""
        svc.unpublish(article_id)
        return {"id": article_id, "status": "unpublished"}

    # health

    @app.get("/health/live", tags=["health"])
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/health/ready", tags=["health"])
    async def ready(request: Request, response: Response) -> dict[str, Any]:
        svc: RecommenderService | None = getattr(request.app.state, "service", None)
        if svc is None or not svc.ready:
            response.status_code = 503
            return {"status": "starting"}
        return svc.health()

    admin.install(app, settings, Auth)
    pages.install(app, settings)
    return app


class _HTTPError(Exception):
    def __init__(self, status: int, name: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.name = name
        self.message = message
