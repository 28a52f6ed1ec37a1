"""Faults degrade: while another process holds SQLite's write lock, or the database is read-only,
writes answer a JSON 503 within the short busy timeout and reads keep serving at once."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from recommender.api import create_app
from recommender.errors import StoreUnavailable
from recommender.service import RecommenderService
from recommender.store import SqliteStore
from tests.factories import article, auth, make_settings, small_corpus


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[TestClient, RecommenderService]]:
    settings = make_settings(tmp_path, sqlite_busy_timeout_ms=300)
    svc = RecommenderService(settings)
    svc.start()
    svc.upsert(small_corpus())
    with TestClient(create_app(settings, svc)) as client:
        yield client, svc
    svc.close()


def test_a_write_lock_held_elsewhere_gives_503_to_writes_and_nothing_to_reads(
    app: tuple[TestClient, RecommenderService],
) -> None:
    client, svc = app
    other = sqlite3.connect(svc.settings.db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process writing, and holding on
    try:
        started = time.monotonic()
        answer = client.post(
            "/v1/events", json={"events": [{"type": "click", "article_id": "storm-1"}]}
        )
        assert answer.status_code == 503 and answer.json()["error"] == "StoreUnavailable"
        assert answer.headers["retry-after"] == "1"
        assert time.monotonic() - started < 3
        put = client.put(
            "/v1/articles/storm-7",
            json=article("storm-7", "Storm", "storm").model_dump(mode="json"),
            headers=auth(),
        )
        assert put.status_code == 503 and put.json()["error"] == "StoreUnavailable"
        started = time.monotonic()
        assert client.get("/v1/articles/storm-1").status_code == 200
        assert client.get("/demo/storm-1").status_code == 200
        assert client.get("/v1/articles/storm-1/related").status_code == 200
        assert client.get("/v1/popular").status_code == 200
        assert time.monotonic() - started < 0.25  # no read waited for the busy timeout
    finally:
        other.execute("ROLLBACK")
        other.close()
    # the lock gone, the same write goes through; the refused one was never half-written
    answer = client.post(
        "/v1/events", json={"events": [{"type": "click", "article_id": "storm-1"}]}
    )
    assert answer.status_code == 202 and answer.json()["accepted"] == 1
    assert svc._store.count_events() == 1


def test_a_read_only_database_answers_json_503_to_writes_and_serves_reads(
    app: tuple[TestClient, RecommenderService],
) -> None:
    client, svc = app
    assert isinstance(svc._store, SqliteStore)
    svc._store._conn.execute("PRAGMA query_only=ON")  # SQLite's own read-only refusal
    answer = client.post("/v1/events", json={"events": [{"type": "view", "article_id": "storm-1"}]})
    assert answer.status_code == 503 and "readonly" in answer.json()["message"]
    assert client.get("/v1/articles/storm-1/related").status_code == 200
    assert client.get("/v1/articles/storm-1").status_code == 200


def test_an_unwritable_shm_file_is_a_clear_error_not_a_silent_death(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "recommender.db"
    SqliteStore(path).close()
    shm = path.with_name(path.name + "-shm")
    shm.write_bytes(b"")
    real_access = __import__("os").access
    # as root every file is writable: play the permission check an operator's user would fail
    monkeypatch.setattr(
        "recommender.store.sqlite.os.access",
        lambda p, mode: False if Path(p) == shm else real_access(p, mode),
    )
    with pytest.raises(StoreUnavailable, match="-shm is not readable and writable"):
        SqliteStore(path)
