"""Plumbing every Redis-backed table shares: failures as the service's named error, and learning
the event log once across replicas."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from itertools import islice

import redis

from recommender.errors import SharedStateUnavailable
from recommender.events import Event


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
) -> int | None:
    """Feed the whole event log to `record_many` in chunks, once across replicas: None when
    another replica holds the seeding lock. `then` runs before the lock is let go, so no replica
    sees the log learned and its riders not."""
    lock = f"{key}:seeding"
    if not client.set(lock, "1", nx=True, ex=900):
        return None
    learned, rest = 0, iter(events)
    while batch := list(islice(rest, chunk)):
        learned += record_many(batch)
    client.set(f"{key}:seeded", "1")
    then()
    client.delete(lock)
    return learned
