"""The list routes validate their query string in one pydantic call (api/query.py): the same
values, 422s and messages as FastAPI's own per-parameter validation, which they replaced."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from recommender.api.query import RelatedByUrlQuery, RelatedQuery, openapi, parsed

QUERIES = [
    "",
    "k=4",
    "k=",
    "k=four",
    "k=4.0",
    "k=4.5",
    "k=4&k=5",
    "k=+4",
    "k=%20",
    "section=",
    "section=Sport&exclude=a,b",
    "section=" + "x" * 101,
    "max_age_days=0",
    "max_age_days=1e3",
    "max_age_days=nan",
    "max_age_days=-1",
    "explain=yes",
    "explain=",
    "explain=TRUE",
    "explain=maybe",
    "session_id=" + "s" * 201,
    "variant=b&unknown=1",
    "url=",
    "url=https://x.example/a",
    "k=7",  # without url, which /v1/related requires
]


def fastapi_way() -> FastAPI:
    """The parameters as the routes declared them before, validated by FastAPI."""
    app = FastAPI()

    @app.get("/old")
    async def old(
        url: Annotated[str, Query(min_length=1, max_length=2_000)],
        k: Annotated[int | None, Query()] = None,
        section: Annotated[str | None, Query(max_length=100)] = None,
        max_age_days: Annotated[float | None, Query(gt=0, le=36_500)] = None,
        exclude: Annotated[str | None, Query(max_length=20_000)] = None,
        explain: bool = False,
        session_id: Annotated[str | None, Query(max_length=200)] = None,
        variant: Annotated[str | None, Query(max_length=40)] = None,
    ) -> dict[str, Any]:
        return {
            "url": url,
            "k": k,
            "section": section,
            "max_age_days": max_age_days,
            "exclude": exclude,
            "explain": explain,
            "session_id": session_id,
            "variant": variant,
        }

    @app.get("/new")
    async def new(request: Request) -> dict[str, Any]:
        return parsed(RelatedByUrlQuery, request).model_dump()

    @app.exception_handler(RequestValidationError)
    async def problems(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        found = [[list(e["loc"]), e["msg"], e["type"]] for e in exc.errors()]
        return JSONResponse(sorted(found), 422)

    return app


@pytest.mark.parametrize("query", QUERIES)
def test_one_call_validates_as_fastapi_did(query: str) -> None:
    client = TestClient(fastapi_way())
    given = query if "url=" in query or query == "k=7" else f"url=u&{query}"
    old, new = client.get(f"/old?{given}"), client.get(f"/new?{given}")
    assert (new.status_code, new.json()) == (old.status_code, old.json())


def test_parameters_are_documented_from_the_model() -> None:
    parameters = {p["name"]: p for p in openapi(RelatedQuery)["parameters"]}
    assert set(parameters) == set(RelatedQuery.model_fields)
    assert all(p["in"] == "query" and not p["required"] for p in parameters.values())
    assert parameters["k"]["description"] == "number of items"
    url = openapi(RelatedByUrlQuery)["parameters"]
    assert [p["required"] for p in url if p["name"] == "url"] == [True]
