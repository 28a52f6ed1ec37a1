"""A running server swaps in new builds: under load, by polling CURRENT, and through the admin
rebuild."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from recommender.api import create_app
from recommender.build import build_index
from recommender.embedding import FakeEmbedder
from recommender.service import RecommenderService
from tests.factories import article, auth, make_settings
from tests.lifecycle_support import (
    TOPICS,
    CountingEmbedder,
    Load,
    corpus,
    related_ids,
    seeded,
    serving,
)


def test_rebuild_and_swap_under_load(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, index_poll_seconds=0)
    articles = corpus()
    writer = seeded(settings, articles)
    old = build_index(settings, writer, FakeEmbedder()).folder
    service = RecommenderService(settings)
    with (
        serving(create_app(settings, service)) as base,
        Load(base, [a.id for a in articles]) as load,
    ):
        load.wait_for(30)
        # corpus fixes written by another process (ingest): only the new build has them
        writer.upsert_articles(
            [a.model_copy(update={"text": a.text + " gecorrigeerd"}) for a in articles[:40]]
            + [article("fresh-1", "Cuba opnieuw in het nieuws", TOPICS["cuba"] + " nieuw1x")]
        )
        gate = threading.Event()
        slow = CountingEmbedder(delay=0.01, gate=gate)
        built: list[Path] = []
        builder = threading.Thread(
            target=lambda: built.append(build_index(settings, writer, slow).folder)
        )
        builder.start()
        assert slow.entered.wait(10)
        # an article published through the API while the build runs: not in the build
        with httpx.Client(base_url=base, timeout=10, headers=auth()) as client:
            put = client.put(
                "/v1/articles/during-1",
                json=article(
                    "during-1", "Cuba tijdens de bouw", TOPICS["cuba"] + " tijdens1x"
                ).model_dump(mode="json"),
            )
            assert put.status_code == 200
            gate.set()
            builder.join(30)
            assert built and slow.texts == 41
            load.wait_for(30)
            assert client.get("/health/ready").json()["index_folder"] == old.name
            reload = client.post("/v1/admin/reload").json()
            assert reload["swapped"] and reload["folder"] == built[0].name
            assert reload["replayed"] >= 1
            load.wait_for(60)
            ready = client.get("/health/ready").json()
            assert ready["index_folder"] == built[0].name and ready["indexed"] == 62
            fallback, ids = related_ids(client, "fresh-1")
            assert not fallback and "cuba-1" in ids
            fallback, ids = related_ids(client, "during-1")
            assert not fallback and "fresh-1" in ids
            assert client.post("/v1/admin/reload").json()["swapped"] is False
    assert load.failures == []
    assert load.ok > 100
    assert writer.count_events() == load.events_accepted > 0
    service.close()
    writer.close()


def test_server_polls_current_and_swaps(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, index_poll_seconds=0.1)
    writer = seeded(settings, corpus(3))
    old = build_index(settings, writer, FakeEmbedder()).folder
    service = RecommenderService(settings)
    with serving(create_app(settings, service)) as base, httpx.Client(base_url=base) as client:
        writer.upsert_articles([article("fresh-2", "Storm op komst", TOPICS["storm"])])
        new = build_index(settings, writer, FakeEmbedder()).folder
        assert new != old
        deadline = time.monotonic() + 10
        while client.get("/health/ready").json()["index_folder"] != new.name:
            assert time.monotonic() < deadline, "the poller did not pick the new index up"
            time.sleep(0.05)
        assert not related_ids(client, "fresh-2")[0]
    service.close()
    writer.close()


def test_admin_rebuild(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, index_poll_seconds=0)
    seeded(settings, corpus(3)).close()
    # the build the service runs, swapped below for a failing and a slow one
    builds: list[Callable[..., Any]] = [build_index]
    service = RecommenderService(settings, build=lambda *args: builds[-1](*args))
    with TestClient(create_app(settings, service)) as client:
        assert client.post("/v1/admin/rebuild").status_code == 401
        assert client.post("/v1/admin/reload").status_code == 401
        assert client.get("/v1/admin/rebuild", headers=auth()).status_code == 404
        response = client.post("/v1/admin/rebuild", headers=auth())
        assert response.status_code == 202 and response.json()["status"] == "running"
        service.wait_for_rebuild(30)
        job = client.get("/v1/admin/rebuild", headers=auth()).json()
        assert job["status"] == "succeeded" and job["reused"] == 15, job
        assert client.get("/health/ready").json()["index_folder"] == job["folder"]
        serving_folder = job["folder"]

        # a failing build changes nothing
        def broken(*_: object, **__: object) -> None:
            raise RuntimeError("disk full")

        builds.append(broken)
        assert client.post("/v1/admin/rebuild", headers=auth()).status_code == 202
        service.wait_for_rebuild(30)
        job = client.get("/v1/admin/rebuild", headers=auth()).json()
        assert job["status"] == "failed" and "disk full" in job["error"]
        assert client.get("/health/ready").json()["index_folder"] == serving_folder
        assert client.get("/v1/articles/cuba-1/related").json()["fallback"] is False

        # one at a time
        gate = threading.Event()
        builds.append(lambda *_: gate.wait(30))
        assert client.post("/v1/admin/rebuild", headers=auth()).status_code == 202
        second = client.post("/v1/admin/rebuild", headers=auth())
        assert second.status_code == 409 and second.json()["error"] == "BuildInProgress"
        gate.set()
        service.wait_for_rebuild(30)
    service.close()
