"""Replicas sharing state, in one process over the real PostgreSQL and Redis: the settings pick
the backends; an article written through one service reaches the other through the change feed
without being embedded again; Redis or PostgreSQL going away degrades, never loses an
acknowledged event."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
import redis
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from recommender.api import create_app
from recommender.cli import app as cli
from recommender.config import Settings
from recommender.embedding import FakeEmbedder
from recommender.errors import InvalidInput
from recommender.events import Event
from recommender.logs import Progress
from recommender.popularity import Popularity
from recommender.redis_state import RedisPopularity
from recommender.service import RecommenderService
from recommender.service.shared import FEED_WAIT_SECONDS, open_popularity
from recommender.store import SqliteStore, open_store
from recommender.store.postgres import PostgresStore
from tests.factories import auth, make_settings, small_corpus
from tests.proxy import TcpProxy
from tests.servers import REDIS_URL


class CountingEmbedder(FakeEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.texts = 0

    def embed(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        self.texts += len(texts)
        return super().embed(texts, progress)


def eventually(check: Callable[[], bool], within: float = 1.0) -> float:
    """Seconds until check() holds; fails the test after `within`."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < within, "did not happen in time"
        time.sleep(0.01)
    return time.monotonic() - started


def shared_settings(tmp_path: Path, database_url: str, prefix: str, **extra: object) -> Settings:
    # popularity shows in cached lists at most a TTL late (README, Caching): keep it short here
    values: dict[str, object] = {"redis_url": REDIS_URL, "result_cache_ttl_seconds": 0.5, **extra}
    return make_settings(tmp_path, database_url=database_url, redis_prefix=prefix, **values)


@pytest.fixture
def replicas(
    tmp_path: Path, postgres_url: str, redis_key_prefix: str
) -> Iterator[list[tuple[RecommenderService, CountingEmbedder]]]:
    started = []
    for name in ("a", "b"):
        settings = shared_settings(tmp_path / name, postgres_url, redis_key_prefix)
        embedder = CountingEmbedder()
        service = RecommenderService(settings, embedder)
        service.start()
        service.start_watching(0)  # no index polling; the shared upkeep runs
        started.append((service, embedder))
    yield started
    for service, _ in started:
        service.close()


def test_settings_choose_the_backends(tmp_path: Path, postgres_url: str) -> None:
    default = make_settings(tmp_path)
    assert default.resolved_database_url == f"sqlite:///{default.db_path}"
    store = open_store(default)
    assert isinstance(store, SqliteStore) and store.path == default.db_path
    store.close()
    store = open_store(make_settings(tmp_path, database_url=postgres_url))
    assert isinstance(store, PostgresStore)
    store.close()
    with pytest.raises(InvalidInput, match="mysql"):
        open_store(make_settings(tmp_path, database_url="mysql://x"))
    config = default.popularity_config()
    assert isinstance(open_popularity(default, config), Popularity)
    redis_settings = make_settings(tmp_path, redis_url=REDIS_URL)
    assert isinstance(open_popularity(redis_settings, config), RedisPopularity)


def test_articles_reach_the_other_replica_without_embedding_again(
    replicas: list[tuple[RecommenderService, CountingEmbedder]],
) -> None:
    (a, a_embedder), (b, b_embedder) = replicas
    a.upsert(small_corpus())
    seconds = eventually(lambda: b.card("storm-3") is not None)
    assert seconds < 1.0
    related = [item.card.id for item in b.related("storm-1", 2).items]
    assert set(related) <= {"storm-2", "storm-3"} and related
    assert a_embedder.texts > 0 and b_embedder.texts == 0  # the vectors came from the store
    b.unpublish("storm-2")
    eventually(lambda: not a.card("storm-2").published)  # type: ignore[union-attr]
    assert "storm-2" not in [item.card.id for item in a.related("storm-1", 4).items]


def test_a_replica_that_starts_following_after_a_write_catches_up_at_once(
    tmp_path: Path, postgres_url: str, redis_key_prefix: str
) -> None:
    """A worker of `serve --workers N` that finishes starting after a write (its feed entry
    already sent) catches up in its first upkeep step, before it waits on the feed."""
    started = []
    for name in ("a", "b"):
        service = RecommenderService(
            shared_settings(tmp_path / name, postgres_url, redis_key_prefix)
        )
        service.start()
        started.append(service)
    a, b = started
    try:
        a.upsert(small_corpus())  # B is started but not yet following the feed
        began = time.monotonic()
        b._upkeep.step(time.monotonic())  # the first step of B's upkeep thread
        assert b.card("storm-3") is not None
        # it used to wait on the feed first: a full FEED_WAIT_SECONDS with nothing new
        assert time.monotonic() - began < FEED_WAIT_SECONDS / 2
    finally:
        for service in started:
            service.close()


def test_events_are_kept_while_redis_is_down_and_counted_when_it_is_back(
    tmp_path: Path, postgres_url: str, redis_key_prefix: str
) -> None:
    with TcpProxy(6379) as proxy:
        settings = shared_settings(
            tmp_path, postgres_url, redis_key_prefix, redis_url=f"redis://127.0.0.1:{proxy.port}/0"
        )
        service = RecommenderService(settings)
        service.start()
        service.upsert(small_corpus())
        with TestClient(create_app(settings, service)) as client:
            proxy.stop()
            ready = client.get("/health/ready").json()
            assert ready["status"] == "degraded" and "redis" in ready["reasons"][0]
            clicks = [
                {"type": "click", "article_id": "sport-2", "session_id": f"s{i}"} for i in range(3)
            ]
            answer = client.post("/v1/events", json={"events": clicks})
            assert answer.status_code == 202 and answer.json() == {
                "accepted": 3,
                "rejected": 0,
                "counted": 0,
            }
            assert client.get("/v1/popular?k=3").status_code == 200  # reads keep serving
            proxy.start()
            # the running upkeep counts what was stored meanwhile, unasked (not a call here,
            # which would race it for the events)
            assert client.get("/health/ready").json()["status"] == "ready"
            eventually(
                lambda: client.get("/v1/popular?k=1").json()["items"][0]["id"] == "sport-2", 5.0
            )
            alltime = service._popularity.scores(["sport-2"], time.time(), "alltime")
            assert alltime[0] == pytest.approx(3)  # each stored event counted once
            assert service._upkeep.count_backlog() == 0
        service.close()


def test_reads_keep_serving_and_writes_answer_503_while_postgres_is_down(
    tmp_path: Path, postgres_url: str
) -> None:
    with TcpProxy(5432) as proxy:
        url = postgres_url.replace(":5432/", f":{proxy.port}/")
        settings = make_settings(tmp_path, database_url=url, database_timeout_seconds=1)
        with TestClient(create_app(settings)) as client:
            client.post(
                "/v1/articles",
                json={"articles": [a.model_dump(mode="json") for a in small_corpus()]},
                headers=auth(),
            )
            proxy.stop()
            assert client.get("/v1/articles/cuba-1/related?k=2").status_code == 200
            assert client.get("/v1/popular?k=2").status_code == 200
            for response in (
                client.put("/v1/articles/x", json={"id": "x", "title": "X"}, headers=auth()),
                client.post(
                    "/v1/events", json={"events": [{"type": "click", "article_id": "cuba-1"}]}
                ),
                client.delete("/v1/articles/cuba-2", headers=auth()),
            ):
                assert response.status_code == 503
                assert response.json()["error"] == "StoreUnavailable"
            ready = client.get("/health/ready").json()
            assert ready["status"] == "degraded" and "database" in ready["reasons"][0]
            proxy.start()
            # the pool reconnects with a backoff of a few seconds
            eventually(
                lambda: (
                    client.put(
                        "/v1/articles/x", json={"id": "x", "title": "X"}, headers=auth()
                    ).status_code
                    == 200
                ),
                within=20,
            )


def test_imported_events_are_counted_by_the_running_replicas(
    tmp_path: Path, postgres_url: str, redis_key_prefix: str
) -> None:
    settings = shared_settings(tmp_path, postgres_url, redis_key_prefix)
    service = RecommenderService(settings)
    service.start()  # seeds the (empty) counters
    log = tmp_path / "clicks.csv"
    log.write_text(
        "ts,type,article_id,session_id\n"
        + "".join(f"{time.time():.0f},click,storm-1,s{i}\n" for i in range(4))
    )
    env = {
        "RECOMMENDER_DATABASE_URL": postgres_url,
        "RECOMMENDER_REDIS_URL": REDIS_URL,
        "RECOMMENDER_REDIS_PREFIX": redis_key_prefix,
    }
    result = CliRunner().invoke(cli, ["import-events", str(log)], env=env)
    assert result.exit_code == 0, result.output
    assert service._upkeep.count_backlog() == 4
    assert service._upkeep.count_backlog() == 0
    service.close()


def test_a_restarted_empty_redis_is_refilled_from_the_event_log(
    tmp_path: Path, postgres_url: str, redis_key_prefix: str
) -> None:
    settings = shared_settings(tmp_path, postgres_url, redis_key_prefix)
    service = RecommenderService(settings)
    service.start()
    service.upsert(small_corpus())
    clicks = [Event(time.time(), "click", "cuba-3", f"s{i}") for i in range(3)]
    assert service.record_events(clicks).counted == 3
    client = redis.Redis.from_url(REDIS_URL)
    client.delete(*client.scan_iter(match=f"{{{redis_key_prefix}}}*"))  # Redis came back empty
    assert service._upkeep.count_backlog() == 3
    popular = service.popular(1, window="alltime")
    assert popular.items[0].card.id == "cuba-3" and popular.items[0].score == pytest.approx(3)
    service.close()
