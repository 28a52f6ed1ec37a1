"""The lexical index in the running service: part of the index folder (built, versioned,
swapped with the vectors), kept live by writes, filled from the store for an older folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from recommender.artifacts import current_folder
from recommender.build import build_index
from recommender.config import Settings
from recommender.embedding import FakeEmbedder
from recommender.events import Event
from recommender.lexical.listed import ListedLexical
from recommender.lexical.lists import LISTS_FILE
from recommender.lexical.storage import ARRAYS, META, NAMES
from recommender.service import RecommenderService
from recommender.store import SqliteStore as Store
from tests.factories import article, make_settings, small_corpus


def lexical_ids(svc: RecommenderService, article_id: str) -> list[str]:
    return [i for i, _ in svc._lifecycle.lexical.neighbours(article_id, 50)]


def built(settings: Settings) -> Path:
    """The folder of a build of the small corpus."""
    store = Store(settings.db_path, "NORMAL")
    store.upsert_articles(small_corpus())
    result = build_index(settings, store, FakeEmbedder())
    store.close()
    return result.folder


def test_build_saves_the_lexical_index_and_the_service_serves_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(tmp_path)
    folder = built(settings)
    for name in (META, ARRAYS, NAMES, LISTS_FILE):
        assert (folder / name).is_file()

    def computed_again(self: ListedLexical) -> None:
        raise AssertionError("the lists saved with the folder were not used")

    monkeypatch.setattr(ListedLexical, "compute_all", computed_again)
    svc = RecommenderService(settings, FakeEmbedder())
    svc.start()
    try:
        assert len(svc._lifecycle.lexical) == len(small_corpus())
        lists = svc._lifecycle.lexical.listed.lists  # the lists saved in the folder
        assert lists is not None and lists.known[: len(small_corpus())].all()
        assert lexical_ids(svc, "cuba-1")[0].startswith("cuba")
        fresh = article("cuba-9", "Cuba kampt met stroomuitval", "Havana Cuba eiland stroom")
        svc.upsert([fresh])
        assert "cuba-9" in lexical_ids(svc, "cuba-1")  # found at once
        svc.unpublish("cuba-9")
        assert "cuba-9" not in lexical_ids(svc, "cuba-1")  # gone at once
    finally:
        svc.close()


def test_a_folder_without_lexical_index_is_filled_from_the_store(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    folder = built(settings)
    for name in (META, ARRAYS, NAMES):
        (folder / name).unlink()  # as a folder built before there was a lexical index
    svc = RecommenderService(settings, FakeEmbedder())
    svc.start()
    try:
        assert len(svc._lifecycle.lexical) == len(small_corpus())
    finally:
        svc.close()


def test_a_rebuild_swaps_the_lexical_index_with_the_vectors(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    svc = RecommenderService(settings, FakeEmbedder())
    svc.start()
    try:
        svc.upsert(small_corpus())
        before = svc._lifecycle.lexical
        svc.start_rebuild()
        svc.wait_for_rebuild(timeout=60)
        svc.reload_if_changed()
        folder = current_folder(settings.index_root)
        assert folder is not None and (folder / META).is_file()
        assert svc._lifecycle.lexical is not before and len(svc._lifecycle.lexical) == len(
            small_corpus()
        )
        assert svc._ranker.lexical is svc._lifecycle.lexical
    finally:
        svc.close()


def test_co_reads_are_rebuilt_from_the_event_store(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    svc = RecommenderService(settings, FakeEmbedder())
    svc.start()
    t = 1_700_000_000.0
    events = [
        Event(t + n, "view", article_id, f"s{n // 2}")
        for n, article_id in enumerate(["cuba-1", "storm-1"] * 3)
    ]
    try:
        svc.upsert(small_corpus())
        svc.record_events(events)
        live = svc._coreads.neighbours("cuba-1", 3)
    finally:
        svc.close()
    assert live and live[0][0] == "storm-1"
    again = RecommenderService(settings, FakeEmbedder())
    again.start()
    try:
        assert again._coreads.neighbours("cuba-1", 3) == live
    finally:
        again.close()


def test_lists_off_searches_per_request(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, lexical_lists=0)
    folder = built(settings)
    assert not (folder / LISTS_FILE).exists()
    svc = RecommenderService(settings, FakeEmbedder())
    svc.start()
    try:
        assert svc._lifecycle.lexical.listed.lists is None
        assert lexical_ids(svc, "cuba-1")[0].startswith("cuba")
    finally:
        svc.close()
