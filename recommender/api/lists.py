"""The list routes (Lees ook by id and by URL, Populair nieuws): what each asks of the service,
and the one way their successful answers take through the app.

Why a way of their own: all requests share one event loop, so whatever a list request costs
delays every other request by as much. FastAPI's routing, parameter machinery and Response
objects were most of a cached list's CPU (a cache hit cost about what /health/live costs, ~0.1
ms, where ranking it took ~3 us), so ListShortcut, a plain ASGI layer innermost in the
middleware stack, answers GET on the three list paths itself: the query string validated by the
route's own pydantic model (api/query.py), the list ranked by the same functions the routes
call, the pre-serialised body and headers sent as they are (http_cache.raw_answer).

It sits just inside the access log's layer, outside HEAD, the body limit and CORS, and does what
those do to its answers: HEAD drops the body, a GET has no body to limit, and CORS adds its
headers (`Vary: Origin` without an Origin; the CORS middleware's own code with one). Those three
layers cost ~25 us a list (wrapped sends, Headers objects), a sixth of a cached list's answer.

Whatever it does not answer with a list (a query the model refuses, an error of the service, a
service not ready) goes on to the FastAPI route, which answers exactly as it always did: its 422s,
its error bodies. The routes also keep the OpenAPI description. Access log and metrics see every
request, labelled with its route template; CORS, the body limit and HEAD the ones it does not
answer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from pydantic import BaseModel
from starlette._utils import get_route_path
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from recommender.api.deps import check_k, parse_exclude
from recommender.api.errors import JsonCORSMiddleware, cors_options
from recommender.api.http_cache import cache_control, raw_answer
from recommender.api.query import PopularQuery, RelatedByUrlQuery, RelatedQuery
from recommender.config import Settings
from recommender.errors import InvalidInput
from recommender.popularity import WINDOWS
from recommender.ranking import RankedList
from recommender.service import RecommenderService

log = logging.getLogger(__name__)

ARTICLES = "/v1/articles/"
RELATED_SUFFIX = "/related"
IF_NONE_MATCH = b"if-none-match"
ORIGIN = b"origin"
# what CORS adds to an answer without an Origin (a list's own headers have no Vary)
VARY_ORIGIN = (b"vary", b"Origin")
ANSWERED = ("GET", "HEAD")


def lees_ook(
    svc: RecommenderService,
    settings: Settings,
    query: RelatedQuery,
    article_id: str | None = None,
) -> RankedList:
    """One Lees-ook list for either route: by article id, or by the query's page URL."""
    options: dict[str, Any] = {
        "section": query.section,
        "max_age_days": query.max_age_days,
        "exclude": parse_exclude(query.exclude),
        "session_id": query.session_id,
        "variant": query.variant,
    }
    k = check_k(query.k, settings.default_k_related, settings)
    if article_id is not None:
        return svc.related(article_id, k, **options)
    url = query.url if isinstance(query, RelatedByUrlQuery) else ""
    return svc.related_by_url(url, k, **options)


def populair(svc: RecommenderService, settings: Settings, query: PopularQuery) -> RankedList:
    """Populair nieuws; with a context article, that article and its Lees ook left out."""
    if query.window is not None and query.window not in WINDOWS:
        raise InvalidInput(f"window must be one of {', '.join(WINDOWS)}")
    return svc.popular(
        check_k(query.k, settings.default_k_popular, settings),
        section=query.section,
        window=query.window,
        exclude=parse_exclude(query.exclude),
        context=query.context,
        session_id=query.session_id,
        variant=query.variant,
    )


@dataclass(frozen=True)
class ListRoute:
    """A list route as the access log and the metrics read a matched route: its template."""

    path: str
    model: type[BaseModel]


RELATED = ListRoute(ARTICLES + "{article_id}" + RELATED_SUFFIX, RelatedQuery)
BY_URL = ListRoute("/v1/related", RelatedByUrlQuery)
POPULAR = ListRoute("/v1/popular", PopularQuery)


def route_of(path: str) -> tuple[ListRoute, str | None] | None:
    """The list route a path names, with its article id; None for any other path. An id is
    what the router's {article_id} matches: one non-empty path segment."""
    if path == POPULAR.path:
        return POPULAR, None
    if path == BY_URL.path:
        return BY_URL, None
    if path.startswith(ARTICLES) and path.endswith(RELATED_SUFFIX):
        article_id = path[len(ARTICLES) : -len(RELATED_SUFFIX)]
        if article_id and "/" not in article_id:
            return RELATED, article_id
    return None


def ranked_for(
    route: ListRoute,
    svc: RecommenderService,
    settings: Settings,
    query: Any,
    article_id: str | None,
) -> RankedList:
    if route is POPULAR:
        return populair(svc, settings, query)
    return lees_ook(svc, settings, query, article_id)


# query strings up to this long are kept validated (most are short and the same on every page
# of a site: `k=4`); a long one (an exclude list) is validated each time and not kept
MAX_KEPT_QUERY = 256
MAX_KEPT_QUERIES = 4_096


class Queries:
    """Each list route's query strings as their validated models. Validating one (parse_qsl,
    a dict, pydantic) is ~5 us, a sixth of a cached list's answer; it is a pure function of
    the string, so a string seen before gets the model it got then (never changed after)."""

    def __init__(self) -> None:
        self._kept: dict[tuple[str, bytes], Any] = {}

    def get(self, route: ListRoute, raw: bytes) -> Any:
        """The validated query; pydantic's ValidationError when the model refuses it."""
        key = (route.path, raw)
        query = self._kept.get(key)
        if query is None:
            # what the route's dict(request.query_params) holds: latin-1, the last value wins
            params = dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True))
            query = route.model.model_validate(params)
            if len(raw) <= MAX_KEPT_QUERY:
                if len(self._kept) >= MAX_KEPT_QUERIES:
                    self._kept.clear()  # many distinct strings (session ids): start again
                self._kept[key] = query
        return query


class ListShortcut:
    """Answers GET on the list routes when it can (see the module); else the app does."""

    enabled = True  # tests switch it off to compare with the routes' own answers

    def __init__(self, app: ASGIApp, fastapi: Any, settings: Settings) -> None:
        self.app = app
        self.fastapi = fastapi  # the FastAPI app: its state holds the service once started
        self.settings = settings
        self.cache_control = cache_control(settings).encode("latin-1")
        self._queries = Queries()
        # the app's CORS settings: its send adds the headers to an answer with an Origin
        self._cors = JsonCORSMiddleware(app, **cors_options(settings))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ANSWERED and self.enabled:
            found = route_of(get_route_path(scope))
            if found is not None and await self._answer(scope, send, *found):
                return
        await self.app(scope, receive, send)

    async def _answer(
        self, scope: Scope, send: Send, route: ListRoute, article_id: str | None
    ) -> bool:
        state = self.fastapi.state
        svc = getattr(state, "service", None)
        if svc is None or not svc.ready:
            return False
        try:
            query = self._queries.get(route, scope.get("query_string", b""))
            ranked = ranked_for(route, svc, self.settings, query, article_id)
        except Exception:  # the route answers it, with the app's error handling
            log.debug("lists.fell_through", exc_info=True)
            return False
        if ranked.fallback:
            state.fallback_counter.inc()
        status, headers, body = raw_answer(
            ranked, query.explain, self.cache_control, header(scope, IF_NONE_MATCH)
        )
        scope["route"] = route
        start: Message = {"type": "http.response.start", "status": status, "headers": headers}
        if header(scope, ORIGIN) is None:
            headers.append(VARY_ORIGIN)
            await send(start)
        else:
            await self._cors.send(start, send, Headers(scope=scope))
        if scope["method"] == "HEAD":
            body = b""
        await send({"type": "http.response.body", "body": body})
        return True


def header(scope: Scope, name: bytes) -> str | None:
    """The request's first header of this (lower-case) name, as Starlette's Headers.get reads
    it."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None
