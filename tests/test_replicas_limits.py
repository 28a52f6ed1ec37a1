"""What one client may do is bounded across replicas, not per process: two real `recommender
serve` processes sharing PostgreSQL and Redis hold one rate limit and one reader cap per client
(tests/test_replicas.py starts them the same way)."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.factories import auth, small_corpus
from tests.test_replicas import Server, eventually, replicas

# the project's default cap (settings.max_readers_per_client), set here so the test says it
READERS_PER_CLIENT = 5


def publish(server: Server, other: Server) -> None:
    corpus = [article.model_dump(mode="json") for article in small_corpus()]
    post = httpx.post(server.url + "/v1/articles", json={"articles": corpus}, headers=auth())
    assert post.is_success
    ids = [str(article["id"]) for article in corpus]
    # setup, not the claim (tests/test_replicas.py times publishing): roomy on a loaded machine
    eventually(lambda: all(other.get(f"/v1/articles/{i}").status_code == 200 for i in ids), 10)


def clicks(article_id: str, sessions: list[str]) -> dict[str, object]:
    return {
        "events": [{"type": "click", "article_id": article_id, "session_id": s} for s in sessions]
    }


def test_a_client_alternating_replicas_meets_one_rate_limit(
    shared_env: dict[str, str], tmp_path: Path
) -> None:
    # 4 at once, then one every 10 s: the test sends its 12 well within that
    limits = {
        "RECOMMENDER_EVENTS_PER_MINUTE_PER_CLIENT": "6",
        "RECOMMENDER_EVENTS_BURST_PER_CLIENT": "4",
    }
    with replicas({**shared_env, **limits}, tmp_path) as (a, b):
        publish(a, b)
        answers: dict[str, list[int]] = {"a": [], "b": []}
        for i in range(12):
            name, server = ("a", a) if i % 2 == 0 else ("b", b)
            body = clicks("storm-1", [f"s{i}"])
            answers[name].append(httpx.post(server.url + "/v1/events", json=body).status_code)
        statuses = answers["a"] + answers["b"]
        assert statuses.count(202) == 4  # not 8: one bucket for the client on both replicas
        assert 429 in answers["a"] and 429 in answers["b"]


def test_a_fake_session_flood_split_over_replicas_stays_bounded(
    shared_env: dict[str, str], tmp_path: Path
) -> None:
    roomy = {
        "RECOMMENDER_EVENTS_PER_MINUTE_PER_CLIENT": "1000000",
        "RECOMMENDER_EVENTS_BURST_PER_CLIENT": "5000",
        "RECOMMENDER_MAX_READERS_PER_CLIENT": str(READERS_PER_CLIENT),
    }
    with replicas({**shared_env, **roomy}, tmp_path) as (a, b):
        publish(a, b)
        # organic: 40-90 distinct readers per story, replayed with the token (many clients)
        organic = ["cuba-1", "cuba-2", "sport-1", "sport-2", "storm-1", "storm-2", "cuba-4"]
        for n, story in enumerate(organic):
            readers = [f"{story}-r{i}" for i in range(40 + 8 * n)]
            sent = httpx.post(a.url + "/v1/events", json=clicks(story, readers), headers=auth())
            assert sent.status_code == 202
        # 1,000 invented sessions from one client, half through each replica
        counted = 0
        for chunk in range(4):
            server = (a, b)[chunk % 2]
            sessions = [f"fake-{chunk * 250 + i}" for i in range(250)]
            answer = httpx.post(server.url + "/v1/events", json=clicks("cuba-5", sessions))
            assert answer.status_code == 202 and answer.json()["accepted"] == 250
            counted += answer.json()["counted"]
        assert counted == READERS_PER_CLIENT  # one cap for both replicas, not one each

        def top_on_both() -> bool:
            tops = [s.ids("/v1/popular?k=6") for s in (a, b)]
            return tops[0] == tops[1] and len(tops[0]) == 6

        eventually(top_on_both, 3.0)
        assert "cuba-5" not in a.ids("/v1/popular?k=6")


def test_co_reads_learned_on_one_replica_show_on_the_other(
    shared_env: dict[str, str], tmp_path: Path
) -> None:
    # two nearest neighbours and no popular or lexical candidates: only co-reads bring zz-1 in
    narrow = {
        "RECOMMENDER_CANDIDATES": "2",
        "RECOMMENDER_POPULAR_CANDIDATES": "0",
        "RECOMMENDER_LEXICAL_CANDIDATES": "0",
    }
    with replicas({**shared_env, **narrow}, tmp_path) as (a, b):
        publish(a, b)
        # a story that shares no word with the Cuba stories
        zz = {"id": "zz-1", "title": "Kunstroof in museum", "text": "schilderij gestolen museum"}
        assert httpx.put(a.url + "/v1/articles/zz-1", json=zz, headers=auth()).is_success
        eventually(lambda: b.get("/v1/articles/zz-1").status_code == 200, 10)

        def zz_on_b() -> list[dict[str, object]]:
            items = b.get("/v1/articles/cuba-1/related?k=10&explain=true").json()["items"]
            return [i for i in items if i["id"] == "zz-1"]

        assert not zz_on_b()
        # readers of cuba-1 who went on to zz-1, all sent to A (with the token: many readers)
        views = [
            {"type": "view", "article_id": story, "session_id": f"reader-{n}"}
            for n in range(8)
            for story in ("cuba-1", "zz-1")
        ]
        sent = httpx.post(a.url + "/v1/events", json={"events": views}, headers=auth())
        assert sent.status_code == 202
        eventually(lambda: bool(zz_on_b()), 5.0)  # B's cache and result cache: ~1 s each
        reasons = zz_on_b()[0]["reasons"]
        assert isinstance(reasons, dict) and float(reasons["coreads"]) > 0
