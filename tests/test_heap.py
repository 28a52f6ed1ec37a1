"""The loaded service kept out of the garbage collector's full passes (gc_freeze), without
keeping garbage alive: a swap's old index is freed at once."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from recommender.build import build_index
from recommender.embedding import FakeEmbedder
from recommender.service import RecommenderService, heap
from tests.factories import make_settings
from tests.lifecycle_support import corpus, seeded


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    # the test process starts many services: nothing frozen here may outlive its test
    yield
    gc.unfreeze()


class Node:
    """An object in a reference cycle: only the collector frees it."""

    def __init__(self) -> None:
        self.me = self


def test_settle_freezes_what_is_loaded_and_frees_frozen_cycles() -> None:
    node = Node()
    alive = weakref.ref(node)
    heap.settle()
    assert gc.get_freeze_count() > 0
    gc.collect()
    del node
    gc.collect()  # a frozen cycle is out of the collector's reach
    assert alive() is not None
    heap.settle()  # unfreezes before it collects
    assert alive() is None


def test_a_swap_frees_the_old_index_and_freezes_the_new(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, index_poll_seconds=0, gc_freeze=True)
    store = seeded(settings, corpus())
    build_index(settings, store, FakeEmbedder())
    service = RecommenderService(settings)
    service.start()
    try:
        assert gc.get_freeze_count() > 0
        # the lexical search and its index refer to each other (a compaction callback)
        old = weakref.ref(service._lifecycle.lexical)
        build_index(settings, store, FakeEmbedder())
        assert service.reload_if_changed().swapped
        assert old() is None
        assert gc.get_freeze_count() > 0
    finally:
        service.close()


def test_off_freezes_nothing(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, gc_freeze=False)
    gc.unfreeze()
    service = RecommenderService(settings)
    service.start()
    try:
        assert gc.get_freeze_count() == 0
    finally:
        service.close()
