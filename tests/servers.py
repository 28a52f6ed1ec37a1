"""The real PostgreSQL and Redis of this machine for backend tests: a schema and a key prefix of
their own per test, removed afterwards (other test runs share the servers: never FLUSHALL).
A server that does not answer is started with scripts/start_services.sh; a test is skipped,
saying which server is missing, only when that fails too."""

from __future__ import annotations

import functools
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import redis

from recommender.store import Store

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://root@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# a test's way to (re)open the store under test: the `open_backend` fixture (conftest) yields one
Opener = Callable[[], Store]


def _postgres_problem() -> str | None:
    try:
        psycopg.connect(POSTGRES_URL, connect_timeout=2).close()
    except psycopg.Error as exc:
        return f"PostgreSQL at {POSTGRES_URL} does not answer: {exc}"
    return None


def _redis_problem() -> str | None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return f"Redis at {REDIS_URL} does not answer: {exc}"
    return None


@functools.cache
def _problems() -> tuple[str | None, str | None]:
    problems = (_postgres_problem(), _redis_problem())
    if any(problems):
        subprocess.run(["bash", str(ROOT / "scripts/start_services.sh")], check=False)
        problems = (_postgres_problem(), _redis_problem())
    return problems


def need_postgres() -> None:
    problem = _problems()[0]
    if problem:
        pytest.skip(f"{problem} (and scripts/start_services.sh could not start it)")


def need_redis() -> None:
    problem = _problems()[1]
    if problem:
        pytest.skip(f"{problem} (and scripts/start_services.sh could not start it)")


def schema_url(schema: str, base: str = POSTGRES_URL) -> str:
    """The database URL whose search_path puts our tables in `schema`."""
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}options=-csearch_path%3D{schema}"


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A fresh schema for one test; yields the database URL that uses it."""
    need_postgres()
    schema = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield schema_url(schema)
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@contextmanager
def redis_prefix() -> Iterator[str]:
    """A key prefix of one test's own; its keys are deleted afterwards."""
    need_redis()
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    try:
        yield prefix
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"{{{prefix}}}*", count=1_000))
        if keys:
            client.delete(*keys)
        client.close()
