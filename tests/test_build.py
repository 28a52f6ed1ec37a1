"""Offline builds: the embedding cache, incremental HNSW, clean-up, one build at a time, a
killed build."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from recommender import cli
from recommender.api import create_app
from recommender.artifacts import (
    PARTIAL,
    current_folder,
    load_serving_index,
    version_folders,
)
from recommender.build import build_index
from recommender.config import Settings
from recommender.embedding import FakeEmbedder, embed_articles
from recommender.errors import BuildInProgress
from recommender.index import INDEX_FILE
from recommender.logs import Progress
from recommender.service import RecommenderService
from tests.factories import article, make_settings
from tests.lifecycle_support import (
    SLOW_BUILD,
    CountingEmbedder,
    cli_env,
    corpus,
    flat,
    seeded,
    serving,
)


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
