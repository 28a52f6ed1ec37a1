"""Schemathesis against the app: every answer is documented (status code and body schema) and no
input a client can send gives a server error. Bounded: a fixed number of examples per route."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from recommender.api import create_app
from recommender.service import RecommenderService
from tests.factories import make_settings, small_corpus

# the app (cheap: its service starts in the fixture below) and its schema, loaded at collection
SETTINGS = make_settings(Path(tempfile.mkdtemp(prefix="contract-")))
APP = create_app(SETTINGS)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def service() -> Iterator[RecommenderService]:
    svc = RecommenderService(SETTINGS)
    svc.start()
    svc.upsert(small_corpus())
    APP.state.service = svc  # the lifespan does this when served
    yield svc
    svc.close()


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_answer_is_in_the_contract(case: schemathesis.Case[Any]) -> None:
    case.call_and_validate(
        checks=[not_a_server_error, status_code_conformance, response_schema_conformance]
    )


def test_the_contract_lists_the_error_body_for_the_write_routes() -> None:
    paths = APP.openapi()["paths"]
    events = paths["/v1/events"]["post"]["responses"]
    assert {"202", "400", "413", "422", "429", "503"} <= set(events)
    assert events["429"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")
    assert {"401", "403", "503"} <= set(paths["/v1/articles"]["post"]["responses"])
    assert "404" in paths["/v1/articles/{article_id}"]["get"]["responses"]
