"""Web security: no credentialed CORS by default, demo page URLs never from the Host header,
ids with "/" refused at ingest, /metrics behind the token when asked."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from recommender.api import create_app
from recommender.service import RecommenderService
from tests.factories import article, auth, make_settings


def test_default_cors_never_allows_credentials(client: TestClient) -> None:
    origin = {"Origin": "https://evil.example"}
    answer = client.get("/v1/popular", headers=origin)
    assert "access-control-allow-credentials" not in answer.headers
    preflight = client.options(
        "/v1/events",
        headers={**origin, "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-credentials" not in preflight.headers


def test_explicit_origins_from_a_comma_separated_value(
    tmp_path: Path, service: RecommenderService
) -> None:
    settings = make_settings(
        tmp_path,
        cors_origins="https://krant.example, https://www.krant.example",
        cors_allow_credentials=True,
    )
    with TestClient(create_app(settings, service)) as client:
        good = client.get("/v1/popular", headers={"Origin": "https://www.krant.example"})
        assert good.headers["access-control-allow-origin"] == "https://www.krant.example"
        assert good.headers["access-control-allow-credentials"] == "true"
        bad = client.get("/v1/popular", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in bad.headers


def test_demo_page_ignores_the_host_header(tmp_path: Path, service: RecommenderService) -> None:
    with TestClient(create_app(make_settings(tmp_path), service)) as client:
        page = client.get("/demo/storm-1", headers={"Host": 'evil.example"><script>'}).text
        assert "evil.example" not in page
        assert 'src="/widget/' in page  # root-relative
    settings = make_settings(tmp_path, public_base_url="https://reco.krant.example/")
    with TestClient(create_app(settings, service)) as client:
        page = client.get("/demo/storm-1", headers={"Host": "evil.example"}).text
        assert "evil.example" not in page
        assert 'src="https://reco.krant.example/widget/' in page


def test_ids_with_a_slash_are_refused_at_ingest_with_a_clear_message(client: TestClient) -> None:
    body = article("a-b", "Schuine streep", "tekst").model_dump(mode="json")
    body["id"] = "a/b"
    answer = client.post("/v1/articles", json={"articles": [body]}, headers=auth())
    assert answer.status_code == 422
    assert "cannot contain '/'" in answer.json()["message"]


def test_metrics_can_require_the_token(tmp_path: Path, service: RecommenderService) -> None:
    settings = make_settings(tmp_path, metrics_require_token=True)
    with TestClient(create_app(settings, service)) as client:
        refused = client.get("/metrics")
        assert refused.status_code == 401 and refused.json()["error"] == "Unauthorized"
        assert client.get("/metrics", headers=auth()).status_code == 200
    with TestClient(create_app(make_settings(tmp_path), service)) as client:
        assert client.get("/metrics").status_code == 200
