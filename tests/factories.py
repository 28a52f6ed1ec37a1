"""Test helpers: settings on a temporary folder with the fake embedder, articles, the small
corpus and the write token's header. Imported by tests; fixtures stay in conftest.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from pydantic import SecretStr

from recommender.articles import Article
from recommender.config import Settings

TOKEN = "test-token"
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp_path / "var",
        "models_dir": tmp_path / "models",
        "model_name": "fake",
        "api_token": SecretStr(TOKEN),
        "sqlite_synchronous": "NORMAL",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


NOW = datetime.now(UTC)


def article(
    article_id: str, title: str, text: str, section: str = "Buitenland", **extra: object
) -> Article:
    data: dict[str, object] = {
        "id": article_id,
        "title": title,
        "lead": "",
        "text": text,
        "section": section,
        "url": f"https://example.test/{article_id}",
        "published_at": NOW - timedelta(days=1),
    }
    data.update(extra)
    return Article.model_validate(data)


def small_corpus() -> list[Article]:
    """Three stories (Cuba, football, storm) plus a syndicated copy of the first Cuba item."""
    cuba = "Havana Cuba Cubaanse regering embargo eiland Caribisch"
    football = "voetbal Feyenoord trainer eredivisie wedstrijd doelpunt stadion"
    storm = "storm Zeeland overstroming dijken waterschap regenval windkracht"
    return [
        article(
            "cuba-1", "Cubaanse soldaten vechten voor Rusland", f"{cuba} soldaten Rusland front"
        ),
        article(
            "cuba-2",
            "Cuba verhoogt brandstofprijs",
            f"{cuba} brandstof prijzen benzine",
            "Economie",
        ),
        article("cuba-3", "Cuba verpacht land aan buitenlanders", f"{cuba} grond landbouw pacht"),
        article("cuba-4", "Stroomuitval in Havana", f"{cuba} stroom centrale uitval"),
        article("cuba-5", "VN stemt over Cuba-embargo", f"{cuba} Verenigde Naties stemming"),
        article(
            "cuba-1-copy",
            "Cubaanse soldaten vechten voor Rusland",
            f"{cuba} soldaten Rusland front",
        ),
        article("sport-1", "Feyenoord ontslaat trainer", football, "Sport"),
        article("sport-2", "Feyenoord wint van Ajax", f"{football} Ajax klassieker", "Sport"),
        article("sport-3", "Nieuwe trainer Feyenoord", f"{football} aanstelling", "Sport"),
        article("storm-1", "Storm raast over Zeeland", storm, "Samenleving"),
        article("storm-2", "Dijken houden stand na storm", f"{storm} versterking", "Samenleving"),
        article(
            "storm-3",
            "Waterschap waarschuwt voor nieuwe storm",
            f"{storm} waarschuwing",
            "Samenleving",
        ),
    ]


def serving_client(settings: Settings) -> Iterator[TestClient]:
    """A started service over the small corpus, behind the app; closed afterwards."""
    from recommender.api import create_app
    from recommender.service import RecommenderService

    svc = RecommenderService(settings)
    svc.start()
    svc.upsert(small_corpus())
    with TestClient(create_app(settings, svc)) as client:
        yield client
    svc.close()


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}
