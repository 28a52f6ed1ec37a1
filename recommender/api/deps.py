"""Dependencies of the routes: the service, the settings, the write token, shared parameters."""

from __future__ import annotations

import base64
import secrets
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from recommender.api.errors import ApiError
from recommender.config import Settings
from recommender.errors import InvalidInput
from recommender.service import RecommenderService

bearer = HTTPBearer(auto_error=False)


async def get_service(request: Request) -> RecommenderService:
    # async: FastAPI runs a plain-def dependency in the thread pool, a thread hop on every
    # request that cost ~9% of /related's CPU under load (py-spy, BENCHMARKS.md)
    svc: RecommenderService = request.app.state.service
    return svc


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    token = request.app.state.settings.api_token
    if token is None:
        raise ApiError(503, "WritesDisabled", "writes are disabled: set RECOMMENDER_API_TOKEN")
    if credentials is None:
        raise ApiError(401, "Unauthorized", "missing bearer token")
    expected = token.get_secret_value().encode()
    if not secrets.compare_digest(credentials.credentials.encode(), expected):
        raise ApiError(403, "Forbidden", "invalid bearer token")


DASHBOARD_CHALLENGE = 'Basic realm="recommender dashboard", charset="UTF-8"'


def require_token_or_basic(request: Request) -> None:
    """The dashboard is opened in a browser, which cannot send a bearer token: it also takes
    HTTP basic auth with the write token as the password (any user name)."""
    token = request.app.state.settings.api_token
    if token is None:
        raise ApiError(503, "WritesDisabled", "the dashboard needs RECOMMENDER_API_TOKEN")
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    given = value.strip()
    if scheme.lower() == "basic":
        try:
            given = base64.b64decode(given, validate=True).decode().partition(":")[2]
        except (ValueError, UnicodeDecodeError):
            given = ""
    elif scheme.lower() != "bearer":
        raise ApiError(401, "Unauthorized", "log in with the API token", DASHBOARD_CHALLENGE)
    if not secrets.compare_digest(given.encode(), token.get_secret_value().encode()):
        raise ApiError(403, "Forbidden", "invalid token", DASHBOARD_CHALLENGE)


Service = Annotated[RecommenderService, Depends(get_service)]
Config = Annotated[Settings, Depends(get_settings)]
Auth = Depends(require_token)


def check_k(k: int | None, default: int, settings: Settings) -> int:
    k = default if k is None else k
    if not 1 <= k <= settings.max_k:
        raise InvalidInput(f"k must be between 1 and {settings.max_k}, got {k}")
    return k


def parse_exclude(exclude: str | None) -> set[str]:
    ids = {part.strip() for part in (exclude or "").split(",") if part.strip()}
    if len(ids) > 200:
        raise InvalidInput("exclude lists at most 200 ids")
    return ids
