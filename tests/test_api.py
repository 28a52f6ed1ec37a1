from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from fastapi.testclient import TestClient

from recommender.api import create_app
from recommender.build import build_index
from recommender.config import Settings
from recommender.embedding import FakeEmbedder
from recommender.service import RecommenderService
from recommender.store import SqliteStore
from tests.factories import auth, make_settings, small_corpus

NEW_ARTICLE = {
    "id": "cuba-new",
    "title": "Cuba sluit hotels door stroomtekort",
    "text": "Havana Cuba Cubaanse regering embargo hotels toerisme",
    "section": "Buitenland",
    "published_at": "2025-10-07T09:00:00+02:00",
}


def item_ids(response: object) -> list[str]:
    body = response.json()  # type: ignore[attr-defined]
    return [item["id"] for item in body["items"]]


def test_related_answer_shape(client: TestClient) -> None:
    response = client.get("/v1/articles/cuba-1/related", params={"k": 4, "explain": "true"})
    assert response.status_code == 200
    body = response.json()
    assert len(body["recommendation_id"]) == 32 and body["fallback"] is False
    assert {i["id"] for i in body["items"]} == {"cuba-2", "cuba-3", "cuba-4", "cuba-5"}
    first = body["items"][0]
    assert set(first) >= {
        "id",
        "url",
        "title",
        "section",
        "image",
        "published_at",
        "score",
        "reasons",
    }
    assert "similarity" in first["reasons"]
    plain = client.get("/v1/articles/cuba-1/related").json()
    assert plain["items"][0]["reasons"] is None and len(plain["items"]) == 4


def test_related_by_url(client: TestClient) -> None:
    response = client.get("/v1/related", params={"url": "https://example.test/cuba-1"})
    assert response.status_code == 200 and "cuba-2" in item_ids(response)


def test_unknown_article_gets_a_popular_fallback(client: TestClient) -> None:
    client.post("/v1/events", json={"events": [{"type": "click", "article_id": "sport-2"}]})
    response = client.get("/v1/articles/nope/related")
    assert response.status_code == 200
    assert response.json()["fallback"] is True and item_ids(response)[0] == "sport-2"


def test_events_count_in_popularity_and_context_removes_overlap(client: TestClient) -> None:
    events = [{"type": "click", "article_id": "cuba-2", "session_id": f"s{i}"} for i in range(3)]
    events += [{"type": "click", "article_id": "storm-1", "session_id": f"t{i}"} for i in range(2)]
    events += [{"type": "click", "article_id": "storm-1", "session_id": "t0"}]  # repeat: once
    response = client.post("/v1/events", json={"events": events})
    assert response.status_code == 202 and response.json() == {
        "accepted": 6,
        "rejected": 0,
        "counted": 5,
    }
    assert item_ids(client.get("/v1/popular", params={"k": 2})) == ["cuba-2", "storm-1"]
    related = set(item_ids(client.get("/v1/articles/cuba-1/related")))
    popular = item_ids(client.get("/v1/popular", params={"k": 6, "context": "cuba-1"}))
    assert len(popular) == 6 and not related & set(popular) and "cuba-1" not in popular


def test_put_makes_an_article_recommendable_at_once_and_delete_removes_it(
    client: TestClient,
) -> None:
    response = client.put("/v1/articles/cuba-new", json=NEW_ARTICLE, headers=auth())
    assert response.status_code == 200, response.text
    assert "cuba-new" in item_ids(client.get("/v1/articles/cuba-1/related", params={"k": 5}))
    assert client.delete("/v1/articles/cuba-new", headers=auth()).status_code == 200
    assert "cuba-new" not in item_ids(client.get("/v1/articles/cuba-1/related", params={"k": 10}))
    assert client.delete("/v1/articles/never-was", headers=auth()).status_code == 404


def test_batch_upsert(client: TestClient) -> None:
    batch = {"articles": [NEW_ARTICLE, {**NEW_ARTICLE, "id": "cuba-new-2"}]}
    response = client.post("/v1/articles", json=batch, headers=auth())
    assert response.status_code == 200 and response.json() == {"upserted": 2, "indexed": 2}


def test_writes_need_the_right_token(client: TestClient) -> None:
    assert client.put("/v1/articles/cuba-new", json=NEW_ARTICLE).status_code == 401
    wrong = {"Authorization": "Bearer not-the-token"}
    response = client.put("/v1/articles/cuba-new", json=NEW_ARTICLE, headers=wrong)
    assert response.status_code == 403 and "token" in response.json()["message"]
    assert client.delete("/v1/articles/cuba-1", headers=wrong).status_code == 403
    assert client.post("/v1/articles", json={"articles": [NEW_ARTICLE]}).status_code == 401


def test_bad_input_gets_a_clear_4xx(client: TestClient) -> None:
    def check(response: object, status: int, needle: str) -> None:
        assert response.status_code == status, response.text  # type: ignore[attr-defined]
        assert needle in response.text  # type: ignore[attr-defined]

    check(
        client.put(
            "/v1/articles/x",
            content=b"{not json",
            headers={**auth(), "Content-Type": "application/json"},
        ),
        422,
        "JSON",
    )
    check(client.put("/v1/articles/x", json={"id": "x"}, headers=auth()), 422, "title")
    check(
        client.put(
            "/v1/articles/x",
            json={"id": "x", "title": "t", "published_at": "31-02-2025"},
            headers=auth(),
        ),
        422,
        "published_at",
    )
    check(
        client.put("/v1/articles/y", json={"id": "x", "title": "t"}, headers=auth()), 422, "differs"
    )
    check(client.get("/v1/articles/cuba-1/related", params={"k": 0}), 422, "k must be")
    check(client.get("/v1/articles/cuba-1/related", params={"k": 10000}), 422, "k must be")
    check(client.get("/v1/articles/cuba-1/related", params={"k": "four"}), 422, "k")
    check(client.get("/v1/popular", params={"k": 0}), 422, "k must be")
    check(client.get("/v1/popular", params={"window": "forever"}), 422, "window")
    check(
        client.get("/v1/articles/cuba-1/related", params={"max_age_days": -1}), 422, "max_age_days"
    )
    check(
        client.post("/v1/events", json={"events": [{"type": "like", "article_id": "a"}]}),
        422,
        "type",
    )
    check(client.post("/v1/events", json={"events": []}), 422, "events")
    many = {"events": [{"type": "view", "article_id": "a"}] * 501}
    check(client.post("/v1/events", json=many), 422, "at most")
    big = b'{"events": [' + b" " * (5 * 1024 * 1024) + b"]}"
    check(
        client.post("/v1/events", content=big, headers={"Content-Type": "application/json"}),
        413,
        "larger",
    )
    check(
        client.put(
            "/v1/articles/x", content=big, headers={**auth(), "Content-Type": "application/json"}
        ),
        413,
        "larger",
    )


def test_streamed_body_over_the_limit_is_refused(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(6):
            yield b" " * (1024 * 1024)

    response = client.post(
        "/v1/events", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413


def test_health_metrics_docs_and_widget(client: TestClient) -> None:
    assert client.get("/health/live").json() == {"status": "ok"}
    ready = client.get("/health/ready").json()
    assert ready["status"] == "ready" and ready["indexed"] == 12
    client.get("/v1/popular")
    metrics = client.get("/metrics").text
    assert 'recommender_requests_total{method="GET",route="/v1/popular",status="200"}' in metrics
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/docs").status_code == 200
    assert "RecommenderWidget" in client.get("/widget.js").text


def test_writes_are_refused_when_no_token_is_configured(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, api_token=None)
    with TestClient(create_app(settings)) as client:
        response = client.put("/v1/articles/x", json=NEW_ARTICLE | {"id": "x"}, headers=auth())
        assert response.status_code == 503 and "RECOMMENDER_API_TOKEN" in response.text


def test_restart_restores_articles_events_and_index(tmp_path: Path) -> None:
    settings: Settings = make_settings(tmp_path)
    service = RecommenderService(settings)
    service.start()
    service.upsert(small_corpus())
    builder = SqliteStore(settings.db_path, settings.sqlite_synchronous)
    build_index(settings, builder, FakeEmbedder())
    builder.close()
    with TestClient(create_app(settings, service)) as client:
        # written after the build: must come back from the store and the cache, not be lost
        assert (
            client.put("/v1/articles/cuba-new", json=NEW_ARTICLE, headers=auth()).status_code == 200
        )
        assert client.delete("/v1/articles/cuba-2", headers=auth()).status_code == 200
        events = [
            {"type": "click", "article_id": "storm-2", "session_id": f"s{i}"} for i in range(3)
        ]
        assert client.post("/v1/events", json={"events": events}).status_code == 202
    service.close()

    with TestClient(create_app(settings)) as client:  # a fresh process would do exactly this
        ready = client.get("/health/ready").json()
        assert ready["index_folder"] is not None and ready["articles"] == 13
        related = item_ids(client.get("/v1/articles/cuba-1/related", params={"k": 10}))
        assert "cuba-new" in related and "cuba-2" not in related
        assert item_ids(client.get("/v1/popular", params={"k": 1})) == ["storm-2"]
        assert time.time() > 0


def test_fallbacks_are_counted_in_metrics(client: TestClient) -> None:
    client.get("/v1/articles/unknown-id/related")
    assert "recommender_fallback_total 1.0" in client.get("/metrics").text
