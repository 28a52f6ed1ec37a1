"""Replicas as they run in production: real `recommender serve` processes on their own ports,
sharing the real PostgreSQL (a schema of this test's own) and Redis (a key prefix of its own),
with the fake embedder to stay fast."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from recommender.cli import app
from recommender.cli.common import ExitCode
from recommender.config import PopularityConfig
from recommender.redis_state import RedisPopularity
from recommender.redis_support import connect
from recommender.store.postgres import PostgresStore
from tests.factories import auth, small_corpus
from tests.servers import REDIS_URL, ROOT

START_TIMEOUT = 60.0
log = logging.getLogger(__name__)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, timeout=5)

    def ids(self, path: str) -> list[str]:
        return [item["id"] for item in self.get(path).json()["items"]]


def start_server(env: dict[str, str], folder: Path, *args: str) -> Server:
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"server-{port}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "recommender", "serve", "--port", str(port), *args],
        env={**os.environ, **env, "RECOMMENDER_DATA_DIR": str(folder / "var")},
        cwd=ROOT,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    return Server(process, f"http://127.0.0.1:{port}", log)


def wait_ready(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"server exited: {server.log.read_text()[-2000:]}")
        try:
            if server.get("/health/ready").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"server not ready in time: {server.log.read_text()[-2000:]}")


def eventually(check: Callable[[], bool], within: float) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < within, "did not happen in time"
        time.sleep(0.01)
    return time.monotonic() - started


@contextmanager
def replicas(env: dict[str, str], folder: Path) -> Iterator[tuple[Server, Server]]:
    """Two server processes on one environment, ready; stopped on the way out."""
    servers = [start_server(env, folder / name) for name in ("a", "b")]
    try:
        for server in servers:
            wait_ready(server)
        yield servers[0], servers[1]
    finally:
        for server in servers:
            if server.process.poll() is None:
                server.process.terminate()
                server.process.wait(timeout=20)


@pytest.fixture
def two_replicas(shared_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    with replicas(shared_env, tmp_path) as pair:
        yield pair


def post_events(server: Server, events: list[dict[str, object]], trusted: bool = False) -> bool:
    """True when the server acknowledged the batch (202). trusted: sent with the token, as a
    server-side replay (one process playing many readers would meet the per-client caps)."""
    headers = auth() if trusted else None
    try:
        answer = httpx.post(
            server.url + "/v1/events", json={"events": events}, headers=headers, timeout=5
        )
    except httpx.TransportError:
        return False
    # 202 with every event accepted: events about an article this replica does not know yet
    # are answered as rejected, not stored
    return answer.status_code == 202 and answer.json().get("accepted") == len(events)


def test_replicas_share_articles_and_popularity(two_replicas: tuple[Server, Server]) -> None:
    a, b = two_replicas
    corpus = [article.model_dump(mode="json") for article in small_corpus()]
    assert httpx.post(a.url + "/v1/articles", json={"articles": corpus}, headers=auth()).is_success
    eventually(lambda: b.get("/v1/articles/storm-1/related?k=2").json()["fallback"] is False, 1)

    # published on A: recommendable on B within a second, also where B had cached the list
    assert "new-1" not in b.ids("/v1/articles/storm-1/related?k=4")
    fresh = {"id": "new-1", "title": "Storm Zeeland dijken", "text": "storm Zeeland dijken"}
    assert httpx.put(a.url + "/v1/articles/new-1", json=fresh, headers=auth()).is_success
    seconds = eventually(lambda: "new-1" in b.ids("/v1/articles/storm-1/related?k=4"), 1.0)
    assert b.get("/v1/articles/new-1/related?k=2").json()["fallback"] is False
    log.info("replicas.published: recommendable on B after %d ms", round(seconds * 1000))

    # clicks split over A and B: the same Populair on both
    clicks = [("sport-1", 6), ("cuba-3", 4), ("storm-2", 2)]
    events: list[dict[str, object]] = [
        {"type": "click", "article_id": article, "session_id": f"{article}-{i}"}
        for article, count in clicks
        for i in range(count)
    ]
    for i, event in enumerate(events):
        assert post_events((a, b)[i % 2], [event])
    expected = [article for article, _ in clicks]
    eventually(lambda: a.ids("/v1/popular?k=3") == b.ids("/v1/popular?k=3") == expected, 3.0)

    # unpublished on B: gone from A at once, also from A's cached list
    assert "new-1" in a.ids("/v1/articles/storm-1/related?k=4")
    assert httpx.delete(b.url + "/v1/articles/new-1", headers=auth()).is_success
    seconds = eventually(lambda: "new-1" not in a.ids("/v1/articles/storm-1/related?k=4"), 1.0)
    log.info("replicas.unpublished: gone from A after %d ms", round(seconds * 1000))

    # click-through on A joins the lists B served (the served-list log is in PostgreSQL)
    rid = b.get("/v1/articles/cuba-2/related?k=2&session_id=reader-1").json()["recommendation_id"]
    seen = {"type": "impression", "article_id": "cuba-2", "session_id": "reader-1"}
    assert post_events(a, [{**seen, "recommendation_id": rid}])

    def seen_on_a() -> bool:
        stats = httpx.get(a.url + "/v1/stats/ctr", headers=auth()).json()
        return bool(stats["blocks"].get("related", {}).get("total", {}).get("seen"))

    eventually(seen_on_a, 3.0)


def test_a_ready_service_analyses_its_first_article_without_loading_a_model(
    tmp_path: Path,
) -> None:
    """The language identifier loads lazily (~2 s): loaded during start-up, not by the first
    article the replica receives or follows (which then reached readers seconds late)."""
    probe = (
        "import sys, py3langid.langid as langid; from pathlib import Path;"
        "from recommender.service import RecommenderService; from tests.factories import *;"
        "svc = RecommenderService(make_settings(Path(sys.argv[1])));"
        "svc.start(ready_for_writes=sys.argv[2] == 'writes');"
        "print(langid.IDENTIFIER is not None); svc.close()"
    )

    def loaded(mode: str) -> str:
        result = subprocess.run(
            [sys.executable, "-c", probe, str(tmp_path / mode), mode],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return result.stdout.strip().splitlines()[-1]

    assert loaded("writes") == "True"
    # `recommender related`/`popular` only read: they do not wait ~2 s for it
    assert loaded("reads") == "False"


def test_killing_a_replica_under_load_loses_no_acknowledged_event(
    two_replicas: tuple[Server, Server], shared_env: dict[str, str]
) -> None:
    a, b = two_replicas
    corpus = [article.model_dump(mode="json") for article in small_corpus()]
    assert httpx.post(b.url + "/v1/articles", json={"articles": corpus}, headers=auth()).is_success
    eventually(lambda: a.get("/v1/articles/storm-1/related?k=2").json()["fallback"] is False, 2.0)
    ids = [article["id"] for article in corpus]
    acknowledged: list[str] = []  # session ids of acknowledged events
    stop = threading.Event()

    def load(server: Server) -> None:
        while not stop.is_set():
            batch = [
                {"type": "click", "article_id": ids[i % len(ids)], "session_id": uuid.uuid4().hex}
                for i in range(10)
            ]
            if post_events(server, batch, trusted=True):
                acknowledged.extend(str(event["session_id"]) for event in batch)

    threads = [threading.Thread(target=load, args=(server,)) for server in (a, b, a, b)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    os.kill(a.process.pid, signal.SIGKILL)
    before = len(acknowledged)
    failures = 0
    for _ in range(20):  # B keeps serving reads while A is gone
        failures += b.get("/v1/articles/storm-1/related?k=4").status_code != 200
        time.sleep(0.05)
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
    assert failures == 0 and len(acknowledged) > before > 0

    store = PostgresStore(shared_env["RECOMMENDER_DATABASE_URL"], pool_size=1)
    stored = {event.session_id for event in store.iter_events()}
    store.close()
    assert set(acknowledged) <= stored
    counters = RedisPopularity(
        connect(REDIS_URL), PopularityConfig(), shared_env["RECOMMENDER_REDIS_PREFIX"]
    )
    counted = round(float(counters.scores(ids, time.time(), "alltime").sum()))
    assert counted >= len(acknowledged)
    log.info(
        "replicas.killed: %d events acknowledged, %d stored, %d counted",
        len(acknowledged),
        len(stored),
        counted,
    )


def test_serve_refuses_workers_without_redis(tmp_path: Path) -> None:
    env = {"RECOMMENDER_DATA_DIR": str(tmp_path / "var"), "RECOMMENDER_MODEL_NAME": "fake"}
    result = CliRunner().invoke(app, ["serve", "--workers", "2"], env=env)
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: --workers above 1 needs RECOMMENDER_REDIS_URL (shared popularity)"
    ]


def test_serve_runs_several_worker_processes_with_redis(
    shared_env: dict[str, str], tmp_path: Path
) -> None:
    server = start_server(shared_env, tmp_path / "w", "--workers", "2")
    try:
        wait_ready(server)
        children = [
            pid
            for pid in os.listdir("/proc")
            if pid.isdigit() and _parent(pid) == server.process.pid
        ]
        assert len([pid for pid in children if _is_python(pid)]) >= 2
        corpus = [article.model_dump(mode="json") for article in small_corpus()]
        post = httpx.post(server.url + "/v1/articles", json={"articles": corpus}, headers=auth())
        assert post.is_success
        # whichever worker answers, the articles are there within a second
        eventually(
            lambda: all(
                not server.get("/v1/articles/storm-1/related?k=2").json()["fallback"]
                for _ in range(10)
            ),
            1.0,
        )
    finally:
        server.process.terminate()
        server.process.wait(timeout=20)


def _parent(pid: str) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def _is_python(pid: str) -> bool:
    try:
        return b"python" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def test_serve_with_an_unreachable_database_fails_in_one_line(tmp_path: Path) -> None:
    env = {
        "RECOMMENDER_DATA_DIR": str(tmp_path / "var"),
        "RECOMMENDER_MODEL_NAME": "fake",
        "RECOMMENDER_DATABASE_URL": "postgresql://root@127.0.0.1:9/test",
        "RECOMMENDER_DATABASE_TIMEOUT_SECONDS": "1",
    }
    result = CliRunner().invoke(app, ["serve"], env=env)
    assert result.exit_code == ExitCode.RUNTIME_ERROR  # the setting is valid; the server is not
    # the pool's own structured warnings may come first; no traceback, one error line
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("error: cannot connect to the database")
    assert "Traceback" not in result.output and sum(ln.startswith("error:") for ln in lines) == 1
