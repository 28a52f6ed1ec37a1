"""Embargo: an unpublished article, or one whose published_at is still ahead, is reachable only
with the token; it is in no list, URL lookup or demo page, and goes live at its time."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from recommender.catalog import Card, Catalog
from recommender.service import RecommenderService
from tests.factories import article, auth

STORM = "storm Zeeland overstroming dijken waterschap regenval windkracht"


def listed_everywhere(client: TestClient, article_id: str) -> list[str]:
    """Where the article shows up in public answers."""
    places = []
    for k in (1, 20):
        related = client.get(f"/v1/articles/storm-1/related?k={k}").json()
        if article_id in [i["id"] for i in related["items"]]:
            places.append(f"related k={k}")
    for window in ("decayed", "trending", "alltime"):
        popular = client.get(f"/v1/popular?k=20&window={window}").json()
        if article_id in [i["id"] for i in popular["items"]]:
            places.append(f"popular {window}")
    if client.get(f"/v1/articles/{article_id}").status_code == 200:
        places.append("article")
    if client.get(f"/demo/{article_id}").status_code == 200:
        places.append("demo")
    by_url = client.get("/v1/related", params={"url": f"https://example.test/{article_id}"})
    if not by_url.json()["fallback"]:
        places.append("url lookup")
    return places


def test_a_future_article_is_hidden_until_its_time_then_appears_without_restart(
    client: TestClient,
) -> None:
    soon = datetime.now(UTC) + timedelta(seconds=1.5)
    embargoed = article("storm-9", "Storm breekt records", f"{STORM} record", published_at=soon)
    assert (
        client.put(
            "/v1/articles/storm-9", json=embargoed.model_dump(mode="json"), headers=auth()
        ).status_code
        == 200
    )
    # clicks before its time are not counted and not stored: it must not rise once live
    events = [{"type": "click", "article_id": "storm-9", "session_id": f"s{i}"} for i in range(9)]
    answer = client.post("/v1/events", json={"events": events}).json()
    assert answer == {"accepted": 0, "rejected": 9, "counted": 0}
    assert listed_everywhere(client, "storm-9") == []
    # the token holder (the CMS) still reads it
    assert client.get("/v1/articles/storm-9", headers=auth()).status_code == 200
    time.sleep(max(0.0, soon.timestamp() - time.time()) + 0.1)
    places = listed_everywhere(client, "storm-9")
    assert {"article", "demo", "url lookup", "related k=20", "popular decayed"} <= set(places)


def test_unpublished_is_gone_everywhere_at_once(client: TestClient) -> None:
    assert "article" in listed_everywhere(client, "storm-2")
    assert client.delete("/v1/articles/storm-2", headers=auth()).status_code == 200
    assert listed_everywhere(client, "storm-2") == []
    stored = client.get("/v1/articles/storm-2", headers=auth())
    assert stored.status_code == 200 and stored.json()["status"] == "unpublished"
    body = client.get("/v1/articles/storm-2").json()
    assert body["error"] == "ArticleNotFound"


def test_a_list_asked_for_an_embargoed_article_reveals_nothing_of_it(
    client: TestClient, service: RecommenderService
) -> None:
    later = datetime.now(UTC) + timedelta(days=2)
    service.upsert([article("storm-8", "Storm komt", f"{STORM} morgen", published_at=later)])
    related = client.get("/v1/articles/storm-8/related").json()
    unknown = client.get("/v1/articles/no-such-story/related").json()
    assert related["fallback"] and unknown["fallback"]
    assert [i["id"] for i in related["items"]] == [i["id"] for i in unknown["items"]]
    context = client.get("/v1/popular?context=storm-8").json()
    assert "storm-8" not in [i["id"] for i in context["items"]]


def test_catalog_releases_in_time_order_and_a_rescheduled_card_waits_for_its_new_time() -> None:
    clock = [1_000.0]
    catalog = Catalog(clock=lambda: clock[0])

    def card(article_id: str, ts: float) -> Card:
        return Card(article_id, article_id, None, None, None, ts, True)

    catalog.put(card("a", 1_010.0))
    catalog.put(card("b", 1_005.0))
    catalog.put(card("c", 900.0))
    assert catalog.is_live("c") and not catalog.is_live("a") and not catalog.is_live("b")
    assert [i for _, i in catalog.newest()] == ["c"]
    catalog.put(card("b", 1_020.0))  # moved later: its old time must not release it
    assert catalog.next_release() == 1_005.0
    assert catalog.release_due(1_011.0) == ["a"]
    assert not catalog.is_live("b")
    assert catalog.release_due(1_020.0) == ["b"]
    assert [i for _, i in catalog.newest()] == ["b", "a", "c"]
    assert catalog.next_release() is None
