"""The list routes' one way through (api/lists.py, ListShortcut) answers what the FastAPI routes
answer, byte for byte, header for header, and leaves everything else to the routes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from recommender.api import create_app, http_cache, lists
from recommender.api.query import PopularQuery
from recommender.service import RecommenderService
from tests.factories import make_settings, small_corpus

EVENTS = {"events": [{"type": "click", "article_id": f"cuba-{n}"} for n in (1, 1, 2, 3)]}
LISTS = [
    "/v1/popular",
    "/v1/popular?window=trending",
    "/v1/popular?k=3&window=alltime",
    "/v1/popular?k=2",
    "/v1/popular?k=3&explain=true",
    "/v1/popular?context=cuba-1&k=1&k=3",
    "/v1/articles/cuba-1/related",
    "/v1/articles/cuba-1/related?k=2&explain=true&exclude=cuba-2",
    "/v1/articles/unknown-id/related?max_age_days=30",
    "/v1/related?url=https://nieuws.example/nope",
]
HEADERS = ("etag", "cache-control", "surrogate-key", "content-type", "content-length", "vary")


@pytest.fixture
def counted(client: TestClient) -> TestClient:
    assert client.post("/v1/events", json=EVENTS).status_code == 202
    return client


@pytest.fixture
def taken(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The lists the shortcut answered."""
    answered: list[str] = []
    answer = http_cache.raw_answer

    def counting(*args: Any) -> Any:
        answered.append("shortcut")
        return answer(*args)

    monkeypatch.setattr(lists, "raw_answer", counting)
    yield answered


@pytest.mark.parametrize("path", LISTS)
def test_answers_what_the_route_answers(
    counted: TestClient, path: str, taken: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = counted.get(path)
    assert fast.status_code == 200 and fast.json()["items"] and taken == ["shortcut"]
    # the same request through the route: the shortcut switched off
    monkeypatch.setattr(lists.ListShortcut, "enabled", False)
    slow = counted.get(path)
    assert taken == ["shortcut"]
    if "explain" not in path:  # explained scores age with the clock between the two
        assert slow.content == fast.content  # the same cached list, rendered the same
    assert [(h, slow.headers.get(h)) for h in HEADERS] == [
        (h, fast.headers.get(h)) for h in HEADERS
    ]
    monkeypatch.setattr(lists.ListShortcut, "enabled", True)
    etag = fast.headers["etag"]
    not_modified = counted.get(path, headers={"If-None-Match": f'"x", {etag}'})
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert not_modified.headers["etag"] == etag and "content-length" not in not_modified.headers
    head = counted.head(path)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == fast.headers["content-length"]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/popular?window=weekly",
        "/v1/popular?k=0",
        "/v1/popular?k=abc",
        "/v1/popular?k=100000",
        "/v1/popular?k=-1",
        "/v1/articles/cuba-1/related?max_age_days=0",
        "/v1/articles/cuba-1/related?explain=maybe",
        "/v1/related",
        "/v1/related?url=",
    ],
)
def test_what_the_route_refuses_is_refused_by_the_route(
    counted: TestClient, path: str, taken: list[str]
) -> None:
    response = counted.get(path)
    assert response.status_code == 422 and taken == []
    assert {"error", "message"} <= set(response.json())


def test_other_paths_and_methods_go_to_the_router(counted: TestClient, taken: list[str]) -> None:
    assert counted.get("/v1/articles//related").status_code == 404
    assert counted.get("/v1/articles/a/b/related").status_code == 404
    assert counted.post("/v1/popular").status_code == 405
    assert counted.get("/v1/popular/").status_code == 200  # the router's redirect, then us
    assert taken == ["shortcut"]


@pytest.mark.parametrize(
    ("path", "route"),
    [
        ("/v1/popular?window=trending", "/v1/popular"),
        ("/v1/articles/cuba-1/related", "/v1/articles/{article_id}/related"),
        ("/v1/related?url=x", "/v1/related"),
    ],
)
def test_metrics_and_access_log_still_see_it(counted: TestClient, path: str, route: str) -> None:
    for _ in range(3):
        assert counted.get(path).status_code == 200
    assert counted.head(path).status_code == 200
    metrics = counted.get("/metrics").text
    lines = [
        line
        for line in metrics.splitlines()
        if line.startswith("recommender_requests_total") and f'route="{route}"' in line
    ]
    assert sum(float(line.rsplit(" ", 1)[1]) for line in lines) == 4
    answer = counted.get(path, headers={"X-Request-ID": "abc-123"})
    assert answer.headers["x-request-id"] == "abc-123"


def test_a_cors_request_gets_its_headers(counted: TestClient) -> None:
    origin = {"Origin": "https://nieuws.example"}
    answer = counted.get("/v1/articles/cuba-1/related", headers=origin)
    assert answer.status_code == 200
    assert "access-control-allow-origin" in answer.headers or answer.headers["vary"] == "Origin"


ORIGINS = [None, "https://nieuws.example", "https://elders.example"]


@pytest.mark.parametrize(
    ("cors", "credentials"),
    [(["*"], False), (["https://nieuws.example"], True), (["https://nieuws.example"], False)],
)
def test_its_answers_get_the_headers_the_layers_it_skips_give(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cors: list[str], credentials: bool
) -> None:
    """HEAD, CORS (with and without an Origin, allowed or not) and 304 as the app's own layers
    answer them: every header in its place, and the body."""
    settings = make_settings(tmp_path, cors_origins=cors, cors_allow_credentials=credentials)
    svc = RecommenderService(settings)
    svc.start()
    svc.upsert(small_corpus())
    answered: list[list[tuple[str, str]]] = []
    with TestClient(create_app(settings, svc)) as client:
        etag = client.get("/v1/popular?k=2").headers["etag"]
        for enabled in (True, False):
            monkeypatch.setattr(lists.ListShortcut, "enabled", enabled)
            for origin in ORIGINS:
                for method, match in (("GET", None), ("HEAD", None), ("GET", etag)):
                    headers = {"Origin": origin} if origin else {}
                    if match:
                        headers["If-None-Match"] = match
                    got = client.request(method, "/v1/popular?k=2", headers=headers)
                    kept = [(k, v) for k, v in got.headers.multi_items() if k != "x-request-id"]
                    answered.append([("status", str(got.status_code)), *kept, ("", got.text)])
    svc.close()
    half = len(answered) // 2
    assert answered[:half] == answered[half:]
    assert any(("vary", "Origin") in a for a in answered[:half])
    assert any(("status", "304") in a for a in answered[:half])


def test_a_query_string_is_validated_once() -> None:
    queries = lists.Queries()
    first = queries.get(lists.RELATED, b"k=3&section=sport")
    assert queries.get(lists.RELATED, b"k=3&section=sport") is first
    assert (first.k, first.section) == (3, "sport")
    # the same string on another route is that route's model
    popular = queries.get(lists.POPULAR, b"k=3&section=sport")
    assert isinstance(popular, PopularQuery) and popular is not first
    for _ in range(2):  # a refused string is refused every time, never kept
        with pytest.raises(ValidationError):
            queries.get(lists.RELATED, b"k=many")
    long = b"exclude=" + b"a," * lists.MAX_KEPT_QUERY
    assert queries.get(lists.RELATED, long) is not queries.get(lists.RELATED, long)


def test_the_kept_queries_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lists, "MAX_KEPT_QUERIES", 3)
    queries = lists.Queries()
    kept = [queries.get(lists.POPULAR, f"k={k}".encode()) for k in range(1, 8)]
    assert [q.k for q in kept] == list(range(1, 8))
    assert queries.get(lists.POPULAR, b"k=7") is kept[-1]
    assert queries.get(lists.POPULAR, b"k=1") is not kept[0]
