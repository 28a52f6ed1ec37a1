"""Online evaluation through the HTTP API: variants in the answers, the stats endpoint, the
dashboard's authentication, and an A/B simulation of readers through the real endpoints."""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from recommender.api import create_app
from recommender.cli import app as cli
from recommender.config import Settings, VariantSpec
from recommender.service import RecommenderService
from tests.factories import TOKEN, auth, make_settings, serving_client, small_corpus

AB = [VariantSpec(name="A", share=1), VariantSpec(name="B", share=1, mmr_lambda=0.5)]


def ab_settings(tmp_path: Path, **extra: object) -> Settings:
    return make_settings(
        tmp_path,
        variants=AB,
        experiment="test",
        ab_baseline_ctr=0.5,
        ab_min_relative_lift=0.2,
        ab_power=0.9,
        **extra,
    )


@pytest.fixture
def ab_client(tmp_path: Path) -> Iterator[TestClient]:
    yield from serving_client(ab_settings(tmp_path))


def test_lists_name_their_variant_and_a_reader_keeps_it(ab_client: TestClient) -> None:
    seen = set()
    for i in range(40):
        first = ab_client.get(f"/v1/articles/cuba-1/related?session_id=s{i}").json()
        again = ab_client.get(f"/v1/popular?session_id=s{i}").json()
        assert first["variant"] == again["variant"] in {"A", "B"}
        seen.add(first["variant"])
    assert seen == {"A", "B"}
    forced = ab_client.get("/v1/related?url=https://example.test/cuba-1&variant=B").json()
    assert forced["variant"] == "B"
    stale = ab_client.get("/v1/articles/cuba-1/related?variant=C&session_id=s1").json()
    assert stale["variant"] == ab_client.get("/v1/popular?session_id=s1").json()["variant"]


def test_without_variants_everything_is_default(client: TestClient) -> None:
    assert client.get("/v1/articles/cuba-1/related").json()["variant"] == "default"
    assert client.get("/v1/popular").json()["variant"] == "default"
    stats = client.get("/v1/stats/ctr", headers=auth()).json()
    assert stats["blocks"]["related"]["experiment"] is None


def test_stats_need_the_token_and_count_served_lists(ab_client: TestClient) -> None:
    assert ab_client.get("/v1/stats/ctr").status_code == 401
    assert ab_client.get("/v1/stats/ctr?days=0", headers=auth()).status_code == 422
    answer = ab_client.get("/v1/articles/cuba-1/related?session_id=x").json()
    events = [
        {
            "type": "impression",
            "article_id": "cuba-1",
            "recommendation_id": answer["recommendation_id"],
        },
        {
            "type": "click",
            "article_id": answer["items"][1]["id"],
            "recommendation_id": answer["recommendation_id"],
            "position": 1,
        },
    ]
    assert ab_client.post("/v1/events", json={"events": events}).status_code == 202
    stats = ab_client.get("/v1/stats/ctr", headers=auth()).json()
    related = stats["blocks"]["related"]
    assert related["total"]["served"] == 1 and related["total"]["clicked"] == 1
    assert related["by_position"][1]["clicks"] == 1
    assert related["by_section"] == {"Buitenland": related["total"]}
    assert related["experiment"]["comparisons"]["B"]["status"] == "collecting"


def test_dashboard_asks_for_basic_auth_and_renders(ab_client: TestClient) -> None:
    anonymous = ab_client.get("/dashboard")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Basic ")
    wrong = base64.b64encode(b"editor:nope").decode()
    assert (
        ab_client.get("/dashboard", headers={"Authorization": f"Basic {wrong}"}).status_code == 403
    )
    ab_client.get("/v1/articles/cuba-1/related?session_id=x")
    good = base64.b64encode(f"editor:{TOKEN}".encode()).decode()
    page = ab_client.get("/dashboard", headers={"Authorization": f"Basic {good}"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Lees ook" in page.text and "<svg" in page.text and "Populair now" in page.text
    assert "http" not in page.text.split("<body>")[1]  # no third-party request from the page
    assert ab_client.get("/dashboard", headers=auth()).status_code == 200


def simulate(
    client: TestClient, rates: dict[str, float], readers: int, seed: int
) -> dict[str, Any]:
    """Readers with known click propensities per variant: each opens an article, sees the Lees
    ook block (an impression) and clicks one of its items with their variant's probability."""
    rng = random.Random(seed)
    ids = [a.id for a in small_corpus()]
    batch: list[dict[str, Any]] = []
    for reader in range(readers):
        article = rng.choice(ids)
        answer = client.get(
            f"/v1/articles/{article}/related?k=4&session_id=sim{seed}-{reader}"
        ).json()
        rid = answer["recommendation_id"]
        batch.append({"type": "impression", "article_id": article, "recommendation_id": rid})
        if rng.random() < rates[answer["variant"]]:
            position = min(int(rng.expovariate(1.0)), len(answer["items"]) - 1)
            clicked = answer["items"][position]["id"]
            batch.append(
                {
                    "type": "click",
                    "article_id": clicked,
                    "recommendation_id": rid,
                    "position": position,
                }
            )
        # one test client plays every reader: it sends as a server-side replay (the token),
        # which the per-client limits exempt
        if len(batch) >= 400:
            assert (
                client.post("/v1/events", json={"events": batch}, headers=auth()).status_code == 202
            )
            batch = []
    if batch:
        assert client.post("/v1/events", json={"events": batch}, headers=auth()).status_code == 202
    stats: dict[str, Any] = client.get("/v1/stats/ctr", headers=auth()).json()
    return stats


def test_simulation_names_the_truly_better_variant(ab_client: TestClient) -> None:
    """B truly has 20% more click-through than A (0.6 against 0.5 of seen lists)."""
    rule = ab_client.get("/v1/stats/ctr", headers=auth()).json()
    stats = simulate(ab_client, {"A": 0.5, "B": 0.6}, readers=1_300, seed=3)
    experiment = stats["blocks"]["related"]["experiment"]
    n = experiment["rule"]["sample_size_per_arm"]
    assert experiment["seen_per_arm"]["A"] >= n and experiment["seen_per_arm"]["B"] >= n
    assert experiment["comparisons"]["B"]["status"] == "winner"
    assert experiment["winner"] == "B"
    assert rule["variants"] == [{"name": "A", "share": 1.0}, {"name": "B", "share": 1.0}]


@pytest.mark.slow
def test_equal_variants_name_a_winner_no_more_than_alpha_allows(tmp_path: Path) -> None:
    """20 seeds of equal variants through HTTP: at α = 0.05, P(4 or more winners) = 1.6%."""
    winners = 0
    for seed in range(20):
        settings = ab_settings(tmp_path / f"run{seed}")
        svc = RecommenderService(settings)
        svc.start()
        svc.upsert(small_corpus())
        with TestClient(create_app(settings, svc)) as client:
            stats = simulate(client, {"A": 0.5, "B": 0.5}, readers=1_300, seed=seed)
        svc.close()
        experiment = stats["blocks"]["related"]["experiment"]
        assert experiment["comparisons"]["B"]["status"] != "collecting"
        winners += experiment["winner"] is not None
    assert winners <= 3


def test_report_ctr_command_writes_markdown_and_plots(tmp_path: Path) -> None:
    """The CLI reads the same logs the server wrote: report.md, ctr.json and two PNGs."""
    settings = ab_settings(tmp_path)
    svc = RecommenderService(settings)
    svc.start()
    svc.upsert(small_corpus())
    with TestClient(create_app(settings, svc)) as client:
        simulate(client, {"A": 0.5, "B": 0.6}, readers=60, seed=1)
    svc.close()
    env = {
        "RECOMMENDER_DATA_DIR": str(settings.data_dir),
        "RECOMMENDER_VARIANTS": '[{"name": "A", "share": 1}, {"name": "B", "share": 1}]',
    }
    out = tmp_path / "report"
    result = CliRunner().invoke(cli, ["report", "ctr", "--days", "2", "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    assert "Lees ook: CTR" in result.output and "winner none yet" in result.output
    text = (out / "report.md").read_text()
    assert "## Lees ook" in text and "collecting" in text
    for name in ("ctr.json", "ctr_by_position.png", "ctr_by_variant.png"):
        assert (out / name).stat().st_size > 0
    stats = json.loads((out / "ctr.json").read_text())
    total = stats["blocks"]["related"]["total"]
    # every reader saw a list; answers from the result cache share one id, so fewer were served
    assert total["seen"] == 60 and 0 < total["served"] <= 60
    bad = CliRunner().invoke(cli, ["report", "ctr", "--days", "0"], env=env)
    assert bad.exit_code == 2 and "--days" in bad.output
