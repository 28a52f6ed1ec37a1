"""Lees ook's lexical, name and co-read signals through the HTTP API: explain=true shows each
feature and its contribution; a co-read neighbour joins the candidates."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from recommender.api import create_app
from recommender.events import Event
from recommender.service import RecommenderService
from tests.factories import article, make_settings, small_corpus


def related(client: TestClient, article_id: str, k: int = 4) -> list[dict[str, Any]]:
    response = client.get(f"/v1/articles/{article_id}/related", params={"k": k, "explain": True})
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_explain_shows_lexical_and_name_parts(client: TestClient) -> None:
    items = related(client, "cuba-1")
    cuba = [i for i in items if str(i["id"]).startswith("cuba")]
    assert cuba
    for item in cuba:
        reasons = item["reasons"]
        assert isinstance(reasons, dict)
        assert reasons["lexical"] > 0 and reasons["name_overlap"] > 0
        parts = reasons["contributions"]
        assert parts["lexical"] > 0 and parts["name_overlap"] > 0
        assert abs(sum(parts.values()) - reasons["total"]) < 1e-4


def test_a_story_read_together_joins_the_candidates(tmp_path: Path) -> None:
    # two nearest neighbours and no popular candidates: only co-reads can bring zz-1 in
    settings = make_settings(tmp_path, candidates=2, popular_candidates=0, lexical_candidates=0)
    svc = RecommenderService(settings)
    svc.start()
    svc.upsert(small_corpus())
    # a story that shares no word with the Cuba stories, read by the same readers after them
    svc.upsert([article("zz-1", "Kunstroof in museum", "schilderij gestolen museum bewaking")])
    t = time.time() - 60
    svc.record_events(
        [
            Event(t + n, "view", story, f"reader-{n}")
            for n in range(8)
            for story in ("cuba-1", "zz-1")
        ]
    )
    try:
        with TestClient(create_app(settings, svc)) as client:
            items = related(client, "cuba-1", k=10)
    finally:
        svc.close()
    joined = [i for i in items if i["id"] == "zz-1"]
    assert joined, [i["id"] for i in items]
    reasons = joined[0]["reasons"]
    assert isinstance(reasons, dict) and reasons["coreads"] > 0  # a candidate, not a filler
