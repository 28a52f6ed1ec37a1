"""The query parameters of the list routes, validated in one pydantic call per request.

FastAPI's own parameter handling walks every declared parameter and dependency per request:
on /related that cost more than ranking a cached list (~75 us of ~120 us, in-process). The hot
read routes take the Request instead and validate its query string against one model here,
with the same pydantic rules, so the answers are those FastAPI gave (values, 422s, messages:
`query.k: Input should be a valid integer, ...`). The parameters are documented in OpenAPI from
the same model (openapi()), so docs and validation cannot drift apart.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from recommender.popularity import WINDOWS

Query = TypeVar("Query", bound=BaseModel)


class ListQuery(BaseModel):
    """What every list takes."""

    model_config = ConfigDict(extra="ignore")  # unknown parameters are ignored, as before

    k: int | None = Field(default=None, description="number of items")
    section: str | None = Field(default=None, max_length=100)
    exclude: str | None = Field(default=None, max_length=20_000, description="comma-separated ids")
    explain: bool = False
    session_id: str | None = Field(
        default=None,
        max_length=200,
        description="the reader's session: keeps them in one A/B variant",
    )
    variant: str | None = Field(
        default=None, max_length=40, description="a variant to serve (a site's own A/B split)"
    )


class RelatedQuery(ListQuery):
    max_age_days: float | None = Field(default=None, gt=0, le=36_500)


class RelatedByUrlQuery(RelatedQuery):
    url: str = Field(min_length=1, max_length=2_000)


class PopularQuery(ListQuery):
    window: str | None = Field(
        default=None, description=f"one of {', '.join(WINDOWS)}; default: decayed"
    )
    context: str | None = Field(default=None, max_length=200)


def parsed(model: type[Query], request: Request) -> Query:
    """The request's query string as model; RequestValidationError (the API's 422) else."""
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as exc:
        errors = [{**e, "loc": ("query", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


def openapi(model: type[BaseModel]) -> dict[str, Any]:
    """The route's `openapi_extra`: model's fields as query parameters, required or not."""
    schema = model.model_json_schema()
    required = set(schema.get("required", ()))
    parameters = []
    for name, field in schema["properties"].items():
        parameter: dict[str, Any] = {"name": name, "in": "query", "required": name in required}
        if "description" in field:
            parameter["description"] = field["description"]
        parameter["schema"] = field
        parameters.append(parameter)
    return {"parameters": parameters}
