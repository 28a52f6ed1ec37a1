"""Plumbing every Redis-backed table shares: a client that gives up quickly, failures as the
service's named error, and learning the event log once across replicas."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from itertools import islice

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from recommender.errors import SharedStateUnavailable
from recommender.events import Event


def connect(url: str, timeout: float = 0.5, read_timeout: float | None = None) -> redis.Redis:
    """A client that gives up quickly: a replica must not hang on a Redis that is down.
    read_timeout: longer, for a client that blocks on the change feed."""
    client: redis.Redis = redis.Redis.from_url(
        url,
        socket_timeout=read_timeout or timeout,
        socket_connect_timeout=timeout,
        decode_responses=True,
        # one immediate retry replaces a pooled connection that a Redis restart broke; more
        # (the client's default backs off for seconds) would hold requests up
        retry=Retry(NoBackoff(), 1),
    )
    return client


@contextmanager
def guarded() -> Iterator[None]:
    """Redis failures leave as the named error the service and the API understand."""
    try:
        yield
    except redis.RedisError as exc:
        raise SharedStateUnavailable(f"redis unreachable: {type(exc).__name__}: {exc}") from exc


def learn_once(
    client: redis.Redis,
    key: str,
    record_many: Callable[[list[Event]], int],
    events: Iterable[Event],
    chunk: int,
    then: Callable[[], None] = lambda: None,
    first: Callable[[], int] = lambda: 0,
) -> int | None:
    """Feed the whole event log to `record_many` in chunks, once across replicas: None when
    another replica holds the seeding lock. `first` runs before the events (the compacted
    history), `then` before the lock is let go, so no replica sees the log learned and its
    riders not."""
    lock = f"{key}:seeding"
    if not client.set(lock, "1", nx=True, ex=900):
        return None
    learned, rest = first(), iter(events)
    while batch := list(islice(rest, chunk)):
        learned += record_many(batch)
    client.set(f"{key}:seeded", "1")
    then()
    client.delete(lock)
    return learned
