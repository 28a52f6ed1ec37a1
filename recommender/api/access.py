"""The access log (one JSON line per request) and the request id, plus the route template of a
request, which the metrics label by too."""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("recommender.access")

REQUEST_ID_HEADER = b"x-request-id"
# a caller's id is echoed into logs and headers: keep it short and free of anything that could
# forge a log line or a header (no spaces, quotes, control characters)
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def route_template(scope: Scope) -> str:
    """The route a request matched, as its template (`/v1/articles/{article_id}/related`), never
    the raw path: article ids must not explode log and metric label cardinality. FastAPI's own
    routes put themselves in the scope; plain Starlette routes and mounts (/docs, /redoc, their
    assets) leave only their endpoint, which is looked up among the app's routes."""
    route = scope.get("route")
    if route is not None:
        return str(getattr(route, "path", "unmatched"))
    endpoint = scope.get("endpoint")
    app = scope.get("app")
    if endpoint is None or app is None:
        return "unmatched"
    for candidate in getattr(app, "routes", ()):
        if getattr(candidate, "endpoint", None) is endpoint:
            return str(candidate.path)
        if getattr(candidate, "app", None) is endpoint:
            return f"{candidate.path}/{{path}}"  # a mount: its files share one label
    return "unmatched"


def request_id_of(scope: Scope) -> str:
    """The caller's X-Request-ID when it is well-formed, else a fresh one: 32 random hex digits
    as a uuid4's, from the module's generator (reseeded in a forked worker) rather than
    uuid4's os.urandom, a system call that was ~10% of a cached list's CPU. An id names a
    request in the logs; it guards nothing, so it needs no cryptographic randomness."""
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER:
            candidate = bytes(value).decode("latin-1")
            if _VALID_REQUEST_ID.fullmatch(candidate):
                return candidate
            break
    return f"{random.getrandbits(128):032x}"


# what the metrics take of each request: route template, method, status, seconds
Observe = Callable[[str, str, int, float], None]


class AccessLog:
    """One `http.request` log line per request (method, route template, status, duration,
    request id), the request id echoed in X-Request-ID, and the request's latency and count
    handed to the metrics (observe). Plain ASGI, one layer for all three, to keep the
    per-request cost low."""

    def __init__(self, app: ASGIApp, observe: Observe | None = None) -> None:
        self.app = app
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_of(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500  # what the client gets when the app raises before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [
                    (k, v) for k, v in message.get("headers", ()) if k.lower() != REQUEST_ID_HEADER
                ]
                headers.append((REQUEST_ID_HEADER, request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            # the router (or the list shortcut) fills in this same scope dict: the route is known
            route = route_template(scope)
            seconds = time.perf_counter() - started
            if self.observe is not None:
                self.observe(route, scope["method"], status, seconds)
            if log.isEnabledFor(logging.INFO):  # the line's fields only for a line written
                fields: dict[str, Any] = {
                    "method": scope["method"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                    "request_id": request_id,
                }
                log.info("http.request", extra=fields)
