"""Index lifecycle: incremental rebuilds, atomic switch and hot swap under load, crash safety."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from recommender import cli
from recommender.api import create_app
from recommender.articles import Article
from recommender.artifacts import (
    CURRENT,
    PARTIAL,
    current_folder,
    load_serving_index,
    version_folders,
)
from recommender.build import build_index
from recommender.config import Settings
from recommender.embedding import FakeEmbedder, embed_articles
from recommender.errors import BuildInProgress, IndexNotFound
from recommender.index import INDEX_FILE
from recommender.logs import Progress
from recommender.service import RecommenderService
from recommender.store import SqliteStore as Store
from tests.factories import TOKEN, article, auth, make_settings

TOPICS = {
    "cuba": "Havana Cuba Cubaanse regering embargo eiland Caribisch",
    "voetbal": "voetbal Feyenoord trainer eredivisie wedstrijd doelpunt stadion",
    "storm": "storm Zeeland overstroming dijken waterschap regenval windkracht",
    "verkiezing": "verkiezingen Tweede Kamer stembus partijen lijsttrekker coalitie",
    "klimaat": "klimaat uitstoot stikstof emissie opwarming energietransitie",
}


def corpus(per_topic: int = 12) -> list[Article]:
    """Articles on a few topics; each uses its own subset of the topic's words, so articles on
    one topic are related but not near-duplicates of each other."""
    rng = np.random.default_rng(1)
    out = []
    for topic, words in TOPICS.items():
        pool = words.split()
        for i in range(per_topic):
            picked = " ".join(rng.choice(pool, size=4, replace=False))
            out.append(article(f"{topic}-{i}", f"{topic.title()} nieuws", f"{picked} uniek{i}x"))
    return out


def flat(text: str) -> str:
    """Console output with wrapping undone."""
    return " ".join(text.split())


class CountingEmbedder:
    """FakeEmbedder that counts what it is asked to embed; optionally slow, or held at a gate
    so a test can act while a build is in the middle of embedding."""

    def __init__(self, delay: float = 0.0, gate: threading.Event | None = None) -> None:
        self.inner = FakeEmbedder()
        self.name = self.inner.name
        self.dim = self.inner.dim
        self.texts = 0
        self.delay = delay
        self.gate = gate
        self.entered = threading.Event()

    def embed(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(30)
        time.sleep(self.delay * len(texts))
        self.texts += len(texts)
        return self.inner.embed(texts, progress)


def seeded(settings: Settings, articles: Sequence[Article]) -> Store:
    store = Store(settings.db_path, settings.sqlite_synchronous)
    store.upsert_articles(articles)
    return store


def cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "RECOMMENDER_DATA_DIR": str(settings.data_dir),
        "RECOMMENDER_MODELS_DIR": str(settings.models_dir),
        "RECOMMENDER_MODEL_NAME": settings.model_name,
        "RECOMMENDER_SQLITE_SYNCHRONOUS": settings.sqlite_synchronous,
        "RECOMMENDER_API_TOKEN": TOKEN,
        **extra,
    }


# incremental rebuild ---------------------------------------------------------------------------


def test_rebuild_embeds_only_what_changed(settings: Settings) -> None:
    articles = corpus()
    store = seeded(settings, articles)
    embedder = CountingEmbedder()
    first = build_index(settings, store, embedder)
    assert (first.embedded, first.reused, first.count) == (60, 0, 60)

    changed = [a.model_copy(update={"title": a.title + " (bijgewerkt)"}) for a in articles[:3]]
    store.upsert_articles(changed)
    store.upsert_articles([articles[10].model_copy(update={"status": "unpublished"})])
    store.upsert_articles([article("new-1", "Nieuw verhaal", "geheel nieuwe tekst hier")])
    # a metadata-only change (section) keeps the embedding text, so it is not re-embedded
    store.upsert_articles([articles[20].model_copy(update={"section": "Anders"})])
    embedder.texts = 0
    second = build_index(settings, store, embedder)
    assert embedder.texts == 4
    assert (second.embedded, second.reused, second.count) == (4, 56, 60)
    assert second.folder != first.folder and current_folder(settings.index_root) == second.folder

    # another model shares nothing with the cache: everything is embedded again
    other = FakeEmbedder(dim=64)
    third = build_index(settings, store, other)
    assert (third.embedded, third.reused) == (60, 0)
    store.close()


def test_incremental_hnsw_build_adds_to_the_previous_graph(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, index_type="hnsw", hnsw_m=8, hnsw_ef_construction=40)
    articles = corpus()
    store = seeded(settings, articles)
    first = build_index(settings, store, FakeEmbedder())
    store.upsert_articles(
        [a.model_copy(update={"text": a.text + " herzien"}) for a in articles[:3]]
        + [articles[5].model_copy(update={"status": "unpublished"})]
    )
    second = build_index(settings, store, FakeEmbedder())
    manifest = json.loads((second.folder / "manifest.json").read_text())
    assert manifest["graph_from"] == first.folder.name and manifest["tombstones"] == 4
    loaded, _ = load_serving_index(
        settings.index_root, FakeEmbedder().name, FakeEmbedder().dim, 128
    )
    assert len(loaded) == 59 and loaded.tombstones == 4 and articles[5].id not in loaded
    probe = loaded.vector(articles[0].id)
    assert probe is not None and loaded.search(probe, 1)[0][0] == articles[0].id
    assert len(loaded.search(probe, 50)) == 50

    # many changes: a fresh, compact graph
    store.upsert_articles([a.model_copy(update={"text": a.text + " weer"}) for a in articles])
    third = build_index(settings, store, FakeEmbedder())
    manifest = json.loads((third.folder / "manifest.json").read_text())
    assert manifest["graph_from"] is None and manifest["tombstones"] == 0
    store.close()


def test_a_failed_build_keeps_the_embeddings_it_made(settings: Settings) -> None:
    """Embeddings are cached chunk by chunk, so the next build resumes instead of starting over."""
    store = seeded(settings, corpus())

    class Failing(CountingEmbedder):
        def embed(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
            if self.texts >= 20:
                raise RuntimeError("killed")
            return super().embed(texts, progress)

    with pytest.raises(RuntimeError):
        embed_articles(store, Failing(), corpus(), settings.embed_max_words, chunk=10)
    counting = CountingEmbedder()
    result = embed_articles(store, counting, corpus(), settings.embed_max_words, chunk=10)
    assert (result.reused, result.embedded, counting.texts) == (20, 40, 40)
    store.close()


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """The CLI points the root logger at the stderr CliRunner captures (and then closes)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restore_logging")
def test_cli_build_reports_reused_and_embedded(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = seeded(settings, corpus())
    for key, value in cli_env(settings).items():
        if key.startswith("RECOMMENDER_"):
            monkeypatch.setenv(key, value)
    runner = CliRunner()
    result = runner.invoke(cli.app, ["build"])
    assert result.exit_code == 0, result.output
    assert "reused 0 cached embeddings, embedded 60" in flat(result.output)
    store.upsert_articles([article("cuba-0", "Cuba herschreven", "andere tekst over Havana")])
    result = runner.invoke(cli.app, ["build"])
    assert result.exit_code == 0, result.output
    assert "reused 59 cached embeddings, embedded 1" in flat(result.output)
    store.close()


# folders: partial clean-up, pruning, fallback ----------------------------------------------------


def test_build_cleans_partial_folders_and_prunes(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, keep_index_versions=2)
    store = seeded(settings, corpus(3))
    root = settings.index_root
    (root / f"20000101T000000000000Z{PARTIAL}").mkdir(parents=True)
    (root / f"20000101T000000000000Z{PARTIAL}" / INDEX_FILE).write_bytes(b"half")
    built = [build_index(settings, store, FakeEmbedder()).folder for _ in range(4)]
    assert not any(p.name.endswith(PARTIAL) for p in root.iterdir())
    assert version_folders(root) == [built[3], built[2]]
    assert current_folder(root) == built[3]
    store.close()


def test_one_build_at_a_time(settings: Settings) -> None:
    store = seeded(settings, corpus(2))
    gate = threading.Event()
    slow = CountingEmbedder(gate=gate)
    thread = threading.Thread(target=build_index, args=(settings, store, slow))
    thread.start()
    try:
        assert slow.entered.wait(10)
        with pytest.raises(BuildInProgress):
            build_index(settings, store, FakeEmbedder())
        # the running build's partial folder must survive the refused one
        assert any(p.name.endswith(PARTIAL) for p in settings.index_root.iterdir())
    finally:
        gate.set()
        thread.join(10)
    assert current_folder(settings.index_root) is not None
    store.close()


def test_corrupt_current_falls_back_to_last_good_folder(settings: Settings) -> None:
    store = seeded(settings, corpus(3))
    older = build_index(settings, store, FakeEmbedder()).folder
    newer = build_index(settings, store, FakeEmbedder()).folder
    root = settings.index_root
    dim, name = FakeEmbedder().dim, FakeEmbedder().name

    (newer / INDEX_FILE).write_bytes(b"\x00garbage")
    index, folder = load_serving_index(settings.index_root, name, dim, 128)
    assert folder == older and len(index) == 15

    (root / CURRENT).write_bytes(b"\xff\xfe../../etc\x00")  # garbled pointer
    assert load_serving_index(settings.index_root, name, dim, 128)[1] == older
    (root / CURRENT).write_text("20990101T000000000000Z")  # points at nothing
    assert load_serving_index(settings.index_root, name, dim, 128)[1] == older

    # the service starts on the fallback too
    svc = RecommenderService(settings)
    svc.start()
    health = svc.health()
    assert health["index_folder"] == older.name and health["indexed"] == 15
    svc.close()

    (older / "rows.json").write_text("[[")
    with pytest.raises(IndexNotFound, match="no usable index"):
        load_serving_index(settings.index_root, name, dim, 128)
    svc = RecommenderService(settings)
    with pytest.raises(IndexNotFound):
        svc.start()
    svc.close()
    store.close()


def test_start_without_any_index(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    seeded(settings, corpus(2)).close()
    # small store, no index at all: embedded in memory at start
    svc = RecommenderService(settings)
    svc.start()
    assert svc.health()["indexed"] == 10 and svc.health()["index_folder"] is None
    svc.close()
    # too big for that: one clear error telling what to do
    svc = RecommenderService(make_settings(tmp_path, max_articles_without_index=5))
    with pytest.raises(IndexNotFound, match="run `recommender build` first"):
        svc.start()
    svc.close()


def test_serve_with_corrupt_index_prints_one_line(settings: Settings) -> None:
    store = seeded(settings, corpus(2))
    folder = build_index(settings, store, FakeEmbedder()).folder
    store.close()
    (folder / INDEX_FILE).write_bytes(b"broken")
    done = subprocess.run(
        [sys.executable, "-m", "recommender", "serve", "--port", "9"],
        env=cli_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert "Traceback" not in done.stderr
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and "no usable index" in errors[0], done.stderr
    # the only other output is structured (JSON) log lines
    assert all(line.startswith("{") for line in lines if not line.startswith("error:"))


# hot swap under load -------------------------------------------------------------------------


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """A real uvicorn server on a free loopback port, in a thread."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


class Load:
    """Client threads calling /related and /popular (and posting events) until stopped."""

    def __init__(self, base: str, ids: Sequence[str], threads: int = 3) -> None:
        self.base = base
        self.ids = list(ids)
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.ok = 0
        self.failures: list[str] = []
        self.events_accepted = 0
        self.threads = [
            threading.Thread(target=self._reads, args=(n,), daemon=True) for n in range(threads)
        ]
        self.threads.append(threading.Thread(target=self._events, daemon=True))

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(15)

    def _record(self, ok: bool, what: str) -> None:
        with self.lock:
            if ok:
                self.ok += 1
            else:
                self.failures.append(what)

    def _reads(self, n: int) -> None:
        with httpx.Client(base_url=self.base, timeout=10) as client:
            i = n
            while not self.stop.is_set():
                article_id = self.ids[i % len(self.ids)]
                i += 1
                for path in (f"/v1/articles/{article_id}/related?k=4", "/v1/popular?k=6"):
                    try:
                        response = client.get(path)
                        ok = response.status_code == 200 and len(response.json()["items"]) > 0
                        self._record(ok, f"{path}: {response.status_code} {response.text[:200]}")
                    except httpx.HTTPError as exc:
                        self._record(False, f"{path}: {exc!r}")

    def _events(self) -> None:
        with httpx.Client(base_url=self.base, timeout=10) as client:
            i = 0
            while not self.stop.is_set():
                body = {"events": [{"type": "view", "article_id": self.ids[i % len(self.ids)]}]}
                i += 1
                try:
                    response = client.post("/v1/events", json=body)
                    self._record(response.status_code == 202, f"events: {response.status_code}")
                    if response.status_code == 202:
                        with self.lock:
                            self.events_accepted += 1
                except httpx.HTTPError as exc:
                    self._record(False, f"events: {exc!r}")
                time.sleep(0.01)

    def wait_for(self, requests: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        start = self.ok
        while self.ok < start + requests and time.monotonic() < deadline:
            time.sleep(0.02)


def related_ids(client: httpx.Client, article_id: str) -> tuple[bool, list[str]]:
    body = client.get(f"/v1/articles/{article_id}/related?k=10").json()
    return body["fallback"], [item["id"] for item in body["items"]]


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


# admin rebuild ---------------------------------------------------------------------------------


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


# crash safety ----------------------------------------------------------------------------------

# the real `recommender build`, with an embedder slowed down so it can be killed mid-way
SLOW_BUILD = textwrap.dedent(
    """
    import time
    import recommender.embedding as embedding
    from recommender.cli import app

    class Slow(embedding.FakeEmbedder):
        def embed(self, texts, progress=None):
            time.sleep(0.05 * len(texts))
            return super().embed(texts, progress)

    embedding.create_embedder = lambda settings: Slow()
    app(["build"])
    """
)


def test_sigkill_during_build(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, index_poll_seconds=0.1)
    articles = corpus()
    writer = seeded(settings, articles)
    old = build_index(settings, writer, FakeEmbedder()).folder
    service = RecommenderService(settings)
    with serving(create_app(settings, service)) as base, httpx.Client(base_url=base) as client:
        client.post("/v1/events", json={"events": [{"type": "view", "article_id": "cuba-1"}]})
        writer.upsert_articles([a.model_copy(update={"lead": "herzien"}) for a in articles])
        before = {"articles": len(list(writer.iter_articles())), "events": writer.count_events()}
        build = subprocess.Popen(
            [sys.executable, "-c", SLOW_BUILD],
            env=cli_env(settings),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        root = settings.index_root
        deadline = time.monotonic() + 30
        while not any(p.name.endswith(PARTIAL) for p in root.iterdir()):
            assert time.monotonic() < deadline and build.poll() is None
            time.sleep(0.02)
        time.sleep(0.5)
        assert build.poll() is None, "the build finished before it could be killed"
        build.send_signal(signal.SIGKILL)
        build.wait(10)

        # the server still answers from the old index; nothing was switched
        assert current_folder(root) == old
        assert any(p.name.endswith(PARTIAL) for p in root.iterdir())
        time.sleep(0.3)  # a few poller ticks
        ready = client.get("/health/ready").json()
        assert ready["index_folder"] == old.name
        response = client.get("/v1/articles/cuba-1/related")
        assert response.status_code == 200 and not response.json()["fallback"]
        assert client.get("/v1/popular").status_code == 200

        # the store is intact
        with sqlite3.connect(settings.db_path) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert len(list(writer.iter_articles())) == before["articles"]
        assert writer.count_events() == before["events"]

        # the next build succeeds, removes the partial folder, and the server picks it up
        done = subprocess.run(
            [sys.executable, "-m", "recommender", "build"],
            env=cli_env(settings),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert "embedded 60" in flat(done.stdout)
        assert not any(p.name.endswith(PARTIAL) for p in root.iterdir())
        new = current_folder(root)
        assert new is not None and new != old
        deadline = time.monotonic() + 10
        while client.get("/health/ready").json()["index_folder"] != new.name:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    service.close()
    writer.close()
