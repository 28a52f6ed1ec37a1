"""What an operator relies on: every error in the project's shape, the access log and request
id, the metrics (route templates, process, service gauges), the readiness report, and /docs
served without a CDN."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from recommender.api import create_app
from recommender.api.prometheus import EventRate
from recommender.build import build_index
from recommender.config import Settings
from recommender.embedding import FakeEmbedder
from recommender.logs import JsonFormatter
from recommender.service import RecommenderService
from recommender.store import SqliteStore
from tests.factories import auth, make_settings, small_corpus


class Lines(logging.Handler):
    """The JSON lines the service writes, parsed back."""

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[dict[str, object]] = []
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        self.entries.append(json.loads(self.format(record)))


@pytest.fixture
def access_lines() -> Iterator[Lines]:
    handler = Lines()
    logger = logging.getLogger("recommender.access")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


def assert_shape(response: object, status: int, error: str) -> None:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["error"] == error and isinstance(body["message"], str) and body["message"]


def test_every_error_answers_in_the_project_shape(client: TestClient) -> None:
    assert_shape(client.get("/no/such/route"), 404, "NotFound")
    assert_shape(client.delete("/v1/popular"), 405, "MethodNotAllowed")
    assert_shape(client.get("/v1/popular", params={"k": "many"}), 422, "InvalidInput")
    assert_shape(client.get("/v1/popular", params={"window": "weekly"}), 422, "InvalidInput")
    assert_shape(client.post("/v1/events", content=b"{not json"), 422, "InvalidInput")
    assert_shape(client.put("/v1/articles/x", json={"id": "x", "title": "t"}), 401, "Unauthorized")
    assert_shape(client.get("/v1/articles/nope"), 404, "ArticleNotFound")
    assert_shape(client.get("/docs-assets/nope.js"), 404, "NotFound")
    big = b'{"events": [' + b" " * 1_100_000 + b"]}"
    assert_shape(client.post("/v1/events", content=big), 413, "PayloadTooLarge")


def test_a_refused_cors_preflight_answers_in_the_project_shape(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, cors_origins=["https://site.example"])
    service = RecommenderService(settings)
    with TestClient(create_app(settings, service)) as client:
        preflight = {"Access-Control-Request-Method": "GET"}
        allowed = client.options(
            "/v1/popular", headers={**preflight, "Origin": "https://site.example"}
        )
        assert allowed.status_code == 200
        refused = client.options(
            "/v1/popular", headers={**preflight, "Origin": "https://evil.example"}
        )
        assert_shape(refused, 400, "CORSRejected")
        assert "origin" in refused.json()["message"].lower()


def test_an_unexpected_failure_is_a_500_in_the_project_shape(
    settings: Settings,
    service: RecommenderService,
    monkeypatch: pytest.MonkeyPatch,
    access_lines: Lines,
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(service, "popular", broken)
    with TestClient(create_app(settings, service), raise_server_exceptions=False) as client:
        response = client.get("/v1/popular", headers={"X-Request-ID": "req-500"})
    assert_shape(response, 500, "InternalError")
    assert "req-500" in response.json()["message"]
    assert response.headers["X-Request-ID"] == "req-500"
    assert "disk on fire" not in response.text  # internals stay in the log
    logged = [e for e in access_lines.entries if e["event"] == "http.request"]
    assert [(e["status"], e["request_id"]) for e in logged] == [(500, "req-500")]


def test_access_log_has_one_json_line_per_request_with_the_request_id(
    client: TestClient, access_lines: Lines
) -> None:
    given = client.get("/v1/articles/cuba-1/related", headers={"X-Request-ID": "abc-123.x:y"})
    assert given.headers["X-Request-ID"] == "abc-123.x:y"
    generated = client.get("/nope")
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["X-Request-ID"])
    # an id that could forge a log line or is too long is replaced, not echoed
    for bad in ("a b", "x" * 129, 'id"; drop', "é"):
        raw = bad.encode()  # as it comes off the wire, non-ASCII included
        answer = client.get("/health/live", headers=[(b"X-Request-ID", raw)])
        assert answer.headers["X-Request-ID"] != bad
        assert re.fullmatch(r"[0-9a-f]{32}", answer.headers["X-Request-ID"])
    lines = [e for e in access_lines.entries if e["event"] == "http.request"]
    assert len(lines) == 6
    first = lines[0]
    assert first["method"] == "GET" and first["status"] == 200
    assert first["route"] == "/v1/articles/{article_id}/related"
    assert first["request_id"] == "abc-123.x:y"
    assert isinstance(first["duration_ms"], float) and first["duration_ms"] >= 0
    assert lines[1]["route"] == "unmatched" and lines[1]["status"] == 404
    assert lines[1]["request_id"] == generated.headers["X-Request-ID"]


def metric_lines(client: TestClient) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200
    return response.text


def test_metrics_label_every_route_by_its_template(client: TestClient) -> None:
    for path in ("/docs", "/redoc", "/openapi.json", "/docs-assets/swagger-ui.css", "/metrics"):
        assert client.get(path).status_code == 200, path
    client.get("/v1/articles/cuba-1/related")
    text = metric_lines(client)
    for route in (
        "/docs",
        "/redoc",
        "/openapi.json",
        "/docs-assets/{path}",
        "/metrics",
        "/v1/articles/{article_id}/related",
    ):
        assert f'recommender_requests_total{{method="GET",route="{route}",status="200"}}' in text
    assert 'route="unmatched"' not in text


def test_request_metrics_count_each_route_method_and_status_apart(client: TestClient) -> None:
    for _ in range(2):
        client.get("/v1/popular")
    client.head("/v1/popular")
    client.get("/v1/popular?k=0")
    text = metric_lines(client)
    for labels, count in (
        ('method="GET",route="/v1/popular",status="200"', 2.0),
        ('method="HEAD",route="/v1/popular",status="200"', 1.0),
        ('method="GET",route="/v1/popular",status="422"', 1.0),
    ):
        assert f"recommender_requests_total{{{labels}}} {count}" in text
    assert 'recommender_request_seconds_count{route="/v1/popular"} 4.0' in text


def test_metrics_have_process_platform_and_service_gauges(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    store = SqliteStore(settings.db_path)
    store.upsert_articles(small_corpus())
    build_index(settings, store, FakeEmbedder())
    store.close()
    service = RecommenderService(settings)
    service.start()
    with TestClient(create_app(settings, service)) as client:
        events = [{"type": "view", "article_id": "cuba-1"}] * 30
        assert client.post("/v1/events", json={"events": events}).status_code == 202
        text = metric_lines(client)
    service.close()
    assert "process_resident_memory_bytes" in text and "process_cpu_seconds_total" in text
    assert "python_info" in text and "python_gc_objects_collected_total" in text
    values = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in text.splitlines()
        if line.startswith("recommender_") and "{" not in line
    }
    assert values["recommender_articles"] == len(small_corpus())
    assert values["recommender_indexed_articles"] == len(small_corpus())
    assert 0 <= values["recommender_index_age_seconds"] < 600
    assert 0 < values["recommender_last_build_seconds"] < 600
    assert values["recommender_events_per_second"] == pytest.approx(30 / 60)


def test_event_rate_forgets_what_left_its_window() -> None:
    rate = EventRate(window=60)
    now = time.time()
    rate.add(120, now - 90)
    rate.add(30, now - 30)
    rate.add(30, now)
    assert rate.per_second(now) == pytest.approx(1.0)
    assert rate.per_second(now + 61) == 0.0


def test_readiness_reports_the_ranker_file_and_the_index_build(tmp_path: Path) -> None:
    ranker = tmp_path / "elsewhere" / "ranker.json"
    ranker.parent.mkdir()
    ranker.write_text(json.dumps({"weights": {"similarity": 1.0, "popularity": 0.5}}))
    settings = make_settings(tmp_path, ranker_path=ranker)
    store = SqliteStore(settings.db_path)
    store.upsert_articles(small_corpus())
    build_index(settings, store, FakeEmbedder())
    store.close()
    service = RecommenderService(settings)
    with TestClient(create_app(settings, service)) as client:
        health = client.get("/health/ready").json()
    service.close()
    assert health["ranker"] == str(ranker) and health["ranker_path"] == str(ranker)
    built = datetime.fromisoformat(health["index_built_at"])
    assert datetime.now(UTC) - built < timedelta(minutes=10)
    assert health["index_build_seconds"] > 0
    # a ranker path with no file: the settings' blend, and the health says where it looked
    missing = make_settings(tmp_path, ranker_path=tmp_path / "none.json")
    fallback = RecommenderService(missing)
    fallback.start()
    assert fallback.health()["ranker"] == "settings"
    assert fallback.health()["ranker_path"] == str(tmp_path / "none.json")
    fallback.close()


def test_docs_pages_reference_only_local_assets(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        sources = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert sources, page
        for source in sources:
            assert source.startswith("/"), f"{page} loads {source} from elsewhere"
            assert client.get(source).status_code == 200, source
        assert "cdn" not in html.lower() and "fonts.googleapis" not in html


def test_writes_still_need_the_token(client: TestClient) -> None:
    response = client.put(
        "/v1/articles/x", json={"id": "x", "title": "t"}, headers={"Authorization": "Bearer no"}
    )
    assert_shape(response, 403, "Forbidden")
    ok = client.put("/v1/articles/x", json={"id": "x", "title": "t"}, headers=auth())
    assert ok.status_code == 200
