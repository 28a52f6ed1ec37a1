"""Events you can trust: ids that are not live are rejected and allocate nothing, one client
cannot invent readers, server time is authoritative, per-client rate limits (429), trusted
proxies, the token exempts, client addresses never stored raw."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from recommender.api import create_app
from recommender.api.clients import RateLimiter, client_address
from recommender.events import Event
from recommender.popularity import Popularity
from recommender.readers import ReaderGate, client_of, reader_session
from recommender.service import RecommenderService
from recommender.store import SqliteStore
from tests.factories import auth, make_settings, serving_client


def app_client(tmp_path: Path, **overrides: object) -> Iterator[TestClient]:
    yield from serving_client(make_settings(tmp_path, **overrides))


@pytest.fixture
def roomy(tmp_path: Path) -> Iterator[TestClient]:
    """Rate limits high enough that only the reader cap decides."""
    yield from app_client(tmp_path, events_per_minute_per_client=1e6, events_burst_per_client=5_000)


def clicks(article_id: str, sessions: Sequence[object]) -> dict[str, Any]:
    return {
        "events": [
            {"type": "click", "article_id": article_id, "session_id": None if s is None else f"{s}"}
            for s in sessions
        ]
    }


def top(client: TestClient, k: int = 6) -> list[str]:
    return [i["id"] for i in client.get(f"/v1/popular?k={k}").json()["items"]]


def test_unknown_and_unpublished_ids_are_rejected_and_allocate_nothing(
    roomy: TestClient,
) -> None:
    svc: RecommenderService = roomy.app.state.service  # type: ignore[attr-defined]
    roomy.delete("/v1/articles/storm-3", headers=auth())
    before = svc._store.count_events()
    fake = [{"type": "click", "article_id": f"fake-{i}"} for i in range(300)]
    fake.append({"type": "click", "article_id": "storm-3"})
    answer = roomy.post("/v1/events", json={"events": fake}).json()
    assert answer == {"accepted": 0, "rejected": 301, "counted": 0}
    assert svc._store.count_events() == before
    assert isinstance(svc._popularity, Popularity)
    assert len(svc._popularity.short) == 0 and len(svc._intake.gate) == 0


def test_a_flood_of_invented_sessions_from_one_client_stays_out_of_the_top(
    roomy: TestClient,
) -> None:
    # organic: many clients (distinct addresses behind a trusted proxy would be the same),
    # here sent with the token as a replay of 40-90 real readers per story
    organic = ["cuba-1", "cuba-2", "sport-1", "sport-2", "storm-1", "storm-2", "cuba-4"]
    for n, story in enumerate(organic):
        readers = [f"{story}-r{i}" for i in range(40 + 8 * n)]
        roomy.post("/v1/events", json=clicks(story, readers), headers=auth())
    for chunk in range(2):
        answer = roomy.post(
            "/v1/events", json=clicks("cuba-5", range(chunk * 500, chunk * 500 + 500))
        )
        assert answer.status_code == 202 and answer.json()["accepted"] == 500
    assert "cuba-5" not in top(roomy)
    # and without any session: one client is one reader, never free
    answer = roomy.post("/v1/events", json=clicks("sport-3", [None] * 500)).json()
    assert answer["counted"] == 1
    assert "sport-3" not in top(roomy)


def test_back_dated_events_are_clamped_and_cannot_step_around_deduplication(
    roomy: TestClient,
) -> None:
    svc: RecommenderService = roomy.app.state.service  # type: ignore[attr-defined]
    long_ago = datetime.now(UTC) - timedelta(days=3)
    events = [
        {
            "type": "click",
            "article_id": "storm-1",
            "session_id": "x",
            "ts": (long_ago + timedelta(hours=h)).isoformat(),
        }
        for h in range(24)
    ]
    events.append(
        {"type": "click", "article_id": "storm-1", "session_id": "x", "ts": "2999-01-01T00:00:00Z"}
    )
    answer = roomy.post("/v1/events", json={"events": events}).json()
    assert answer == {"accepted": 25, "rejected": 0, "counted": 1}
    stored = list(svc._store.iter_events())
    assert all(abs(e.ts - datetime.now(UTC).timestamp()) < 130 for e in stored)
    # the client's address is never stored raw, only its keyed hash
    assert all(client_of(e.session_id) for e in stored)
    assert not any("testclient" in (e.session_id or "") for e in stored)


def test_rate_limit_answers_429_with_retry_after_and_the_token_is_exempt(tmp_path: Path) -> None:
    for client in app_client(tmp_path, events_per_minute_per_client=60, events_burst_per_client=10):
        ok = client.post("/v1/events", json=clicks("storm-1", range(10)))
        assert ok.status_code == 202
        refused = client.post("/v1/events", json=clicks("storm-1", range(3)))
        assert refused.status_code == 429 and refused.json()["error"] == "TooManyRequests"
        assert 1 <= int(refused.headers["retry-after"]) <= 3
        replay = client.post("/v1/events", json=clicks("storm-1", range(400)), headers=auth())
        assert replay.status_code == 202


def request_from(peer: str, forwarded: str | None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return Request({"type": "http", "client": (peer, 1234), "headers": headers})


def test_forwarded_for_counts_only_from_a_trusted_proxy(tmp_path: Path) -> None:
    plain = make_settings(tmp_path)
    proxied = make_settings(tmp_path, trusted_proxies="10.0.0.0/8, ::1")
    assert [str(n) for n in proxied.trusted_proxy_networks] == ["10.0.0.0/8", "::1/128"]
    # a header from an untrusted peer is ignored: the client cannot pose as another
    assert client_address(request_from("203.0.113.7", "198.51.100.1"), plain) == "203.0.113.7"
    assert client_address(request_from("203.0.113.7", "198.51.100.1"), proxied) == "203.0.113.7"
    # behind the proxy: the nearest address the proxy did not add itself
    chain = "198.51.100.9, 198.51.100.1, 10.1.1.1"
    assert client_address(request_from("10.0.0.2", chain), proxied) == "198.51.100.1"
    assert client_address(request_from("10.0.0.2", None), proxied) == "10.0.0.2"


def test_forged_forwarding_headers_do_not_escape_the_rate_limit(tmp_path: Path) -> None:
    limits = {"events_per_minute_per_client": 60, "events_burst_per_client": 5}
    for client in app_client(tmp_path, **limits):
        for i in range(5):
            forged = {"X-Forwarded-For": f"10.0.0.{i}"}
            client.post("/v1/events", json=clicks("storm-1", [None]), headers=forged)
        again = client.post("/v1/events", json=clicks("storm-1", [None]), headers=forged)
        assert again.status_code == 429


def test_reader_gate_caps_invented_sessions_per_client_and_story() -> None:
    gate = ReaderGate(window_seconds=1_800, per_client=3)
    flood = [Event(1_000.0 + i, "click", "a", reader_session("0" * 16, f"s{i}")) for i in range(50)]
    assert sum(gate.admit(e) for e in flood) == 3
    other = [Event(1_000.0, "click", "a", reader_session("1" * 16, f"s{i}")) for i in range(2)]
    assert all(gate.admit(e) for e in other)
    assert gate.admit(Event(1_000.0, "click", "a", "imported-session"))  # token: trusted
    assert gate.admit(Event(3_000.0, "click", "a", reader_session("0" * 16, "s99")))  # new window


def test_rate_limiter_refills_and_forgets_idle_clients() -> None:
    limiter = RateLimiter(per_minute=60, burst=5)
    assert limiter.take("k", 5, now=0.0) == 0.0
    assert limiter.take("k", 2, now=0.0) == pytest.approx(2.0)
    assert limiter.take("k", 2, now=2.0) == 0.0
    limiter._prune(now=100.0)
    assert len(limiter) == 0


def test_a_retried_batch_with_event_ids_is_stored_and_counted_once(roomy: TestClient) -> None:
    svc: RecommenderService = roomy.app.state.service  # type: ignore[attr-defined]
    batch = {
        "events": [
            {"type": "click", "article_id": "storm-1", "session_id": f"s{i}", "event_id": f"e{i}"}
            for i in range(5)
        ]
    }
    first = roomy.post("/v1/events", json=batch).json()
    again = roomy.post("/v1/events", json=batch).json()
    assert first == {"accepted": 5, "rejected": 0, "counted": 5}
    assert again == {"accepted": 5, "rejected": 0, "counted": 0}
    assert svc._store.count_events() == 5
    # the same ids from the token holder are another sender's: not confused with these
    assert roomy.post("/v1/events", json=batch, headers=auth()).json()["counted"] == 5
    assert svc._store.count_events() == 10


def test_event_ids_survive_a_restart(tmp_path: Path) -> None:
    batch = {"events": [{"type": "view", "article_id": "storm-1", "event_id": "only-once"}]}
    for client in app_client(tmp_path):
        assert client.post("/v1/events", json=batch).json()["counted"] == 1
    settings = make_settings(tmp_path)
    svc = RecommenderService(settings)
    svc.start()
    with TestClient(create_app(settings, svc)) as client:
        assert client.post("/v1/events", json=batch).json()["counted"] == 0
        assert svc._store.count_events() == 1
    svc.close()


def test_a_database_from_before_event_ids_gets_the_column(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL,"
        " type TEXT NOT NULL, article_id TEXT NOT NULL, session_id TEXT,"
        " recommendation_id TEXT, position INTEGER);"
        "INSERT INTO events (ts, type, article_id) VALUES (1.0, 'click', 'a');"
    )
    old.commit()
    old.close()
    store = SqliteStore(path)
    try:
        store.add_events(
            [Event(2.0, "click", "a", event_id="x"), Event(3.0, "click", "a", event_id="x")]
        )
        assert store.count_events() == 2 and store.seen_event_ids(["x", "y"]) == {"x"}
    finally:
        store.close()
