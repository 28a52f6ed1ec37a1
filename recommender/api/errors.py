"""Every error the API answers has one shape, {"error", "message"}: domain errors (mapped to a
status code in one table), HTTP-only errors (ApiError), validation errors, the router's own
404 and 405, a refused CORS preflight, and anything unexpected (500). The body limit's 413 is
answered in the same shape by its middleware."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import Response

from recommender.config import Settings
from recommender.errors import (
    ArticleNotFound,
    BuildInProgress,
    IndexMismatch,
    IndexNotFound,
    InvalidInput,
    RecommenderError,
    SharedStateUnavailable,
    StoreUnavailable,
)

log = logging.getLogger(__name__)

# the one place domain errors become HTTP status codes; any other named error is a 400
STATUS_OF: dict[type[RecommenderError], int] = {
    ArticleNotFound: 404,
    InvalidInput: 422,
    IndexMismatch: 500,
    IndexNotFound: 503,
    BuildInProgress: 409,
    StoreUnavailable: 503,
    SharedStateUnavailable: 503,
}


class ApiError(Exception):
    """An error that exists only over HTTP (authentication, a missing job)."""

    def __init__(
        self,
        status: int,
        name: str,
        message: str,
        challenge: str = "Bearer",
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.name = name
        self.message = message
        self.challenge = challenge  # WWW-Authenticate of a 401/403: how to authenticate
        self.retry_after = retry_after  # seconds, of a 429 or 503


def status_of(exc: RecommenderError) -> int:
    return next((code for kind, code in STATUS_OF.items() if isinstance(exc, kind)), 400)


def body(name: str, message: str) -> dict[str, str]:
    return {"error": name, "message": message}


async def recommender_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RecommenderError)
    status = status_of(exc)
    # a busy or read-only store is passing: the client may retry its batch in a moment
    headers = {"Retry-After": "1"} if status == 503 else None
    return JSONResponse(body(type(exc).__name__, str(exc)), status, headers=headers)


async def api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    headers = {"WWW-Authenticate": exc.challenge} if exc.status in (401, 403) else {}
    if exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    return JSONResponse(body(exc.name, exc.message), exc.status, headers=headers or None)


async def validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()))
        problems.append(f"{where}: {err.get('msg')}")
    return JSONResponse(
        {"error": "InvalidInput", "message": "; ".join(problems[:10]), "detail": problems[:50]},
        422,
    )


async def router_error(request: Request, exc: Exception) -> JSONResponse:
    """The router's own answers (no such route, method not allowed) in the project's shape."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        answer = body("NotFound", f"no route {request.url.path}")
    elif exc.status_code == 405:
        answer = body("MethodNotAllowed", f"{request.method} is not allowed on {request.url.path}")
    else:
        answer = body("HTTPError", str(exc.detail))
    return JSONResponse(answer, exc.status_code, headers=exc.headers)


async def internal_error(request: Request, exc: Exception) -> JSONResponse:
    """A bug: the client gets the shape and the request id, the log gets the traceback."""
    request_id = request.scope.get("state", {}).get("request_id", "")
    log.error("http.internal_error", exc_info=exc, extra={"request_id": request_id})
    # answered outside the access-log middleware, so the id header is set here
    headers = {"X-Request-ID": request_id} if request_id else None
    return JSONResponse(
        body("InternalError", f"internal error (request id {request_id or 'unknown'})"),
        500,
        headers=headers,
    )


class JsonCORSMiddleware(CORSMiddleware):
    """CORS, with a refused preflight (origin, method or header not allowed) answered in the
    project's shape rather than Starlette's plain text."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        kept = {
            k: v
            for k, v in response.headers.items()
            if k.lower() not in ("content-length", "content-type")
        }
        message = bytes(response.body).decode("utf-8", errors="replace")
        return JSONResponse(body("CORSRejected", message), response.status_code, headers=kept)


def cors_options(settings: Settings) -> dict[str, Any]:
    """The CORS middleware's settings: the app's and the list shortcut's (api/lists.py) alike."""
    return {
        "allow_origins": settings.cors_origins,
        # the API authenticates with bearer tokens, never cookies: credentials only where an
        # operator asks for them, and never for any origin ("*")
        "allow_credentials": settings.cors_allow_credentials and "*" not in settings.cors_origins,
        "allow_methods": ["GET", "HEAD", "POST", "PUT", "DELETE"],
        "allow_headers": ["Authorization", "Content-Type", "X-Request-ID"],
        "expose_headers": ["X-Request-ID"],
    }


def install(app: FastAPI) -> None:
    app.add_exception_handler(Exception, internal_error)
    app.add_exception_handler(RecommenderError, recommender_error)
    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, router_error)
