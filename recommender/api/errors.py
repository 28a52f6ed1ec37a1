"""Every error the API answers has one shape, {"error", "message"}: domain errors (mapped to a
status code in one table), HTTP-only errors (ApiError), validation errors, and the router's own
404 and 405."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

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

    def __init__(self, status: int, name: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.name = name
        self.message = message


def status_of(exc: RecommenderError) -> int:
    return next((code for kind, code in STATUS_OF.items() if isinstance(exc, kind)), 400)


def body(name: str, message: str) -> dict[str, str]:
    return {"error": name, "message": message}


async def recommender_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RecommenderError)
    return JSONResponse(body(type(exc).__name__, str(exc)), status_of(exc))


async def api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status in (401, 403) else None
    return JSONResponse(body(exc.name, exc.message), exc.status, headers=headers)


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


def install(app: FastAPI) -> None:
    app.add_exception_handler(RecommenderError, recommender_error)
    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, router_error)
