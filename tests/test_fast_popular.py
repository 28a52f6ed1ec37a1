"""The short way through for plain Populair-nieuws requests (api/fast_popular.py) answers what
the route answers, byte for byte, and leaves everything else to the route."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.responses import Response

from recommender.api import fast_popular

EVENTS = {"events": [{"type": "click", "article_id": f"cuba-{n}"} for n in (1, 1, 2, 3)]}


@pytest.fixture
def counted(client: TestClient) -> TestClient:
    assert client.post("/v1/events", json=EVENTS).status_code == 202
    return client


@pytest.mark.parametrize("query", ["", "?window=trending", "?k=3&window=alltime", "?k=2"])
def test_answers_what_the_route_answers(
    counted: TestClient, query: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken: list[str] = []
    answer = fast_popular.list_response  # type: ignore[attr-defined]

    def counting(*args: Any) -> Response:
        taken.append(query)
        return answer(*args)

    monkeypatch.setattr(fast_popular, "list_response", counting)
    fast = counted.get("/v1/popular" + query)
    assert fast.status_code == 200 and fast.json()["items"] and taken == [query]
    # the same request through the route: the short way switched off
    monkeypatch.setattr(fast_popular, "SIMPLE", frozenset())
    slow = counted.get("/v1/popular" + query)
    assert slow.content == fast.content  # the same cached list, rendered the same
    for header in ("etag", "cache-control", "surrogate-key", "content-type"):
        assert slow.headers[header] == fast.headers[header]
    etag = fast.headers["etag"]
    monkeypatch.setattr(fast_popular, "SIMPLE", frozenset({"k", "window"}))
    assert counted.get("/v1/popular" + query, headers={"If-None-Match": etag}).status_code == 304


@pytest.mark.parametrize(
    "query", ["?window=weekly", "?k=0", "?k=abc", "?k=100000", "?k=-1", "?k=1&k=2"]
)
def test_what_the_route_refuses_is_refused_by_the_route(counted: TestClient, query: str) -> None:
    response = counted.get("/v1/popular" + query)
    if query == "?k=1&k=2":  # not simple: the route decides (its last value wins)
        assert response.status_code == 200 and len(response.json()["items"]) == 2
        return
    assert response.status_code == 422
    assert {"error", "message"} <= set(response.json())


def test_other_parameters_go_to_the_route(counted: TestClient) -> None:
    body = counted.get("/v1/popular?k=3&explain=true").json()
    assert body["items"][0]["reasons"] is not None  # only the route explains
    context = counted.get("/v1/popular?context=cuba-1").json()
    assert "cuba-1" not in [item["id"] for item in context["items"]]


def test_metrics_and_access_log_still_see_it(counted: TestClient) -> None:
    for _ in range(3):
        assert counted.get("/v1/popular?window=trending").status_code == 200
    metrics = counted.get("/metrics").text
    line = next(
        line
        for line in metrics.splitlines()
        if line.startswith("recommender_requests_total") and 'route="/v1/popular"' in line
    )
    assert float(line.rsplit(" ", 1)[1]) >= 3
    assert counted.get("/v1/popular", headers={"X-Request-ID": "abc-123"}).headers[
        "x-request-id"
    ] == ("abc-123")
