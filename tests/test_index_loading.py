"""Loading the index at start-up: fallback to the last good folder, no index at all, a corrupt
index from `serve`."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from recommender.artifacts import (
    CURRENT,
    load_serving_index,
)
from recommender.build import build_index
from recommender.config import Settings
from recommender.embedding import FakeEmbedder
from recommender.errors import IndexNotFound
from recommender.index import INDEX_FILE
from recommender.service import RecommenderService
from tests.browser_support import running_server
from tests.factories import make_settings
from tests.lifecycle_support import (
    cli_env,
    corpus,
    seeded,
)


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

    # the service starts on the fallback too, and says it is degraded
    svc = RecommenderService(settings)
    svc.start()
    health = svc.health()
    assert health["index_folder"] == older.name and health["indexed"] == 15
    assert health["status"] == "degraded" and older.name in " ".join(health["reasons"])
    svc.close()

    (older / "rows.json").write_text("[[")
    with pytest.raises(IndexNotFound, match="no usable index"):
        load_serving_index(settings.index_root, name, dim, 128)
    # no folder loads: an index rebuilt from the store serves, degraded, with the reason
    svc = RecommenderService(settings)
    svc.start()
    health = svc.health()
    assert health["indexed"] == 15 and health["index_folder"] is None
    assert health["status"] == "degraded" and "rebuilt in memory" in " ".join(health["reasons"])
    assert svc.related(corpus(3)[0].id, 4).items
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


def test_serve_with_a_corrupt_index_and_no_older_folder_serves_degraded(
    settings: Settings, tmp_path: Path
) -> None:
    store = seeded(settings, corpus(2))
    folder = build_index(settings, store, FakeEmbedder()).folder
    store.close()
    (folder / INDEX_FILE).write_bytes(b"broken")
    with running_server(cli_env(settings), tmp_path) as server:
        with urllib.request.urlopen(server.base + "/health/ready", timeout=10) as answer:
            assert answer.status == 200
            health = json.loads(answer.read())
        assert health["status"] == "degraded" and "no usable index" in " ".join(health["reasons"])
        assert health["indexed"] == 10
        first = corpus(2)[0].id
        with urllib.request.urlopen(f"{server.base}/v1/articles/{first}/related") as answer:
            assert not json.loads(answer.read())["fallback"]
