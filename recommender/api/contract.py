"""The OpenAPI description tells the truth about errors: every status code a route can answer,
each with the one error body ({"error", "message"}), added here by rule rather than route by
route, so a new route cannot forget them. tests/test_contract.py runs schemathesis against it."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from recommender.api.schemas import ErrorOut

MEANING = {
    400: "the body is not JSON",
    401: "missing bearer token",
    403: "invalid bearer token",
    404: "not found",
    409: "conflict (a rebuild is running)",
    413: "request body too large",
    422: "invalid input",
    429: "too many events from this client (see Retry-After)",
    503: "unavailable: writes disabled (no token), the store busy or read-only, or not ready",
}
# codes beyond the rules below, by (method, path)
EXTRA: dict[tuple[str, str], tuple[int, ...]] = {
    ("get", "/v1/articles/{article_id}"): (404,),
    ("delete", "/v1/articles/{article_id}"): (404,),
    ("get", "/demo/{article_id}"): (404,),
    ("post", "/v1/events"): (429, 503),
    ("get", "/v1/admin/rebuild"): (404,),
    ("post", "/v1/admin/rebuild"): (409,),
    ("get", "/health/ready"): (503,),
}
WRITES = ("post", "put", "delete", "patch")


def codes_of(method: str, path: str, operation: dict[str, Any]) -> set[int]:
    codes = {422} if operation.get("parameters") or operation.get("requestBody") else set()
    if operation.get("requestBody"):
        codes.add(400)  # a body that is not JSON at all
    if operation.get("security"):
        codes |= {401, 403, 503}
    if method in WRITES:
        codes |= {413, 503}
    return codes | set(EXTRA.get((method, path), ()))


def truthful_schema(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["ErrorOut"] = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for code in sorted(codes_of(method, path, operation)):
                # replaces FastAPI's own 422 (HTTPValidationError), which we never answer
                responses[str(code)] = {"description": MEANING[code], "content": error}
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    return schema


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = truthful_schema(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
