"""Integration: the real bundled model on the demo corpus, through the CLI and the HTTP API,
as a user of `make run` sees it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from recommender.api import create_app
from recommender.cli import app as cli
from recommender.config import Settings
from recommender.demo import demo_articles, demo_clusters, demo_near_duplicates, hot_articles

SHIPPED_RANKER = Path(__file__).resolve().parents[1] / "models" / "ranker.json"


@pytest.fixture(scope="module")
def demo_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root: Path = tmp_path_factory.mktemp("demo")
    env = {
        "RECOMMENDER_DATA_DIR": str(root / "var"),
        "RECOMMENDER_MODELS_DIR": str(root / "models"),
        # the ranking `make run` serves: the committed learned weights when present
        "RECOMMENDER_RANKER_PATH": str(SHIPPED_RANKER),
    }
    result = CliRunner().invoke(cli, ["demo"], env=env)
    assert result.exit_code == 0, result.output
    settings = Settings(
        data_dir=root / "var", models_dir=root / "models", ranker_path=SHIPPED_RANKER
    )
    with TestClient(create_app(settings)) as client:
        yield client


def ids(response: object) -> list[str]:
    return [item["id"] for item in response.json()["items"]]  # type: ignore[attr-defined]


def test_cuba_story_gets_four_other_cuba_stories_and_not_its_copy(demo_client: TestClient) -> None:
    cuba = set(demo_clusters()["cuba"])
    copies = demo_near_duplicates()
    cuba_copies = {copy for copy, original in copies.items() if original in cuba}
    story = "demo-016"  # Cuban soldiers in Russia's army, as on the seed page
    assert story in cuba
    related = ids(demo_client.get(f"/v1/articles/{story}/related", params={"k": 4}))
    assert len(related) == 4
    assert set(related) <= (cuba | cuba_copies) - {story}
    assert not set(related) & {c for c, o in copies.items() if o == story}


def test_popular_shows_what_the_click_log_made_popular(demo_client: TestClient) -> None:
    hot = set(hot_articles(demo_articles()))
    popular = ids(demo_client.get("/v1/popular", params={"k": 6}))
    assert len(popular) == 6 and set(popular) <= hot


def test_context_removes_the_overlap_between_the_blocks(demo_client: TestClient) -> None:
    # a hot story's own page: without context it would show itself in Populair nieuws
    story = hot_articles(demo_articles())[0]
    related = set(ids(demo_client.get(f"/v1/articles/{story}/related")))
    plain = ids(demo_client.get("/v1/popular", params={"k": 6}))
    with_context = ids(demo_client.get("/v1/popular", params={"k": 6, "context": story}))
    assert story in plain
    assert len(with_context) == 6 and story not in with_context
    assert not related & set(with_context)


def test_demo_page_renders(demo_client: TestClient) -> None:
    page = demo_client.get("/demo/demo-016")
    assert page.status_code == 200 and "rec-widget" in page.text and "Cubaanse" in page.text
