"""Shared fixtures: settings on a temporary folder with the fake embedder, and a small corpus."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from recommender.api import create_app
from recommender.config import Settings
from recommender.service import RecommenderService
from recommender.store import MemoryStore, SqliteStore
from recommender.store.postgres import PostgresStore
from tests.factories import TOKEN, make_settings, small_corpus
from tests.servers import REDIS_URL, ROOT, Opener, postgres_schema, redis_prefix

# this process starts hundreds of services, and what one froze would outlive its test
# (tests/test_heap.py turns it on where it is tested)
os.environ.setdefault("RECOMMENDER_GC_FREEZE", "false")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def service(settings: Settings) -> Iterator[RecommenderService]:
    svc = RecommenderService(settings)
    svc.start()
    svc.upsert(small_corpus())
    yield svc
    svc.close()


@pytest.fixture
def client(settings: Settings, service: RecommenderService) -> Iterator[TestClient]:
    with TestClient(create_app(settings, service)) as test_client:
        yield test_client


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The environment of a CLI run on a temporary folder with the fake embedder."""
    return {
        "RECOMMENDER_DATA_DIR": str(tmp_path / "var"),
        "RECOMMENDER_MODELS_DIR": str(tmp_path / "models"),
        "RECOMMENDER_MODEL_NAME": "fake",
    }


@pytest.fixture(scope="session")
def base_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny sentence-transformers model made from scratch, the base of tuning tests."""
    from tests.tuning_support import tiny_model

    return tiny_model(tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """The CLI points the root logger at the stderr CliRunner captures (and then closes)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A database URL on the real PostgreSQL with a schema of this test's own."""
    with postgres_schema() as url:
        yield url


@pytest.fixture
def redis_key_prefix() -> Iterator[str]:
    """A Redis key prefix of this test's own on the real Redis."""
    with redis_prefix() as prefix:
        yield prefix


@pytest.fixture
def shared_env(postgres_url: str, redis_key_prefix: str, tmp_path: Path) -> dict[str, str]:
    """The environment of replicas sharing the real PostgreSQL and Redis (tests/test_replicas*)."""
    return {
        "RECOMMENDER_DATABASE_URL": postgres_url,
        "RECOMMENDER_REDIS_URL": REDIS_URL,
        "RECOMMENDER_REDIS_PREFIX": redis_key_prefix,
        "RECOMMENDER_MODEL_NAME": "fake",
        "RECOMMENDER_MODELS_DIR": str(tmp_path / "models"),  # the shared snapshots folder
        "RECOMMENDER_API_TOKEN": TOKEN,
        # popularity shows in cached lists at most this late (README, Caching)
        "RECOMMENDER_RESULT_CACHE_TTL_SECONDS": "1",
        "PYTHONPATH": str(ROOT),
    }


@pytest.fixture(params=["sqlite", "postgres", "memory"])
def open_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Every store backend in turn; opens the same store again each call (the memory one lives
    as long as the test). PostgreSQL: the real server, a schema per test."""
    if request.param == "sqlite":
        yield lambda: SqliteStore(tmp_path / "db.sqlite")
    elif request.param == "postgres":
        with postgres_schema() as url:
            yield lambda: PostgresStore(url, pool_size=2)
    else:
        shared = MemoryStore()
        yield lambda: shared
