"""Helpers of the index-lifecycle tests: a topical corpus, a counting embedder, a store seeded
with articles, a server on a free port and a load generator against it."""

from __future__ import annotations

import os
import socket
import textwrap
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import httpx
import numpy as np
import uvicorn
from fastapi import FastAPI

from recommender.articles import Article
from recommender.config import Settings
from recommender.embedding import FakeEmbedder
from recommender.logs import Progress
from recommender.store import SqliteStore as Store
from tests.factories import TOKEN, article

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
