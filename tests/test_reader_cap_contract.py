"""The reader cap (one client adds at most `per_client` readers to a story per window) counted
the same way in process (readers.ReaderGate before Popularity) and in the real Redis (inside the
counting script, shared by every replica)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import pytest

from recommender.config import PopularityConfig
from recommender.events import Event
from recommender.popularity import Popularity
from recommender.readers import ReaderGate, reader_session
from recommender.redis_state import RedisPopularity, connect
from tests.servers import REDIS_URL

T = 1_800_000_000.0
WINDOW_MINUTES = 30
Count = Callable[[Sequence[Event]], int]
CONFIG = PopularityConfig(session_dedup_minutes=WINDOW_MINUTES)


def fake(client: str, n: int, article: str = "a", at: float = T) -> list[Event]:
    return [Event(at + i, "click", article, reader_session(client * 16, f"s{i}")) for i in range(n)]


@pytest.fixture(params=["memory", "redis"])
def make(request: pytest.FixtureRequest) -> Iterator[Callable[[int], Count]]:
    if request.param == "memory":

        def in_memory(per_client: int) -> Count:
            popularity = Popularity(CONFIG)
            gate = ReaderGate(WINDOW_MINUTES * 60, per_client)
            return lambda events: popularity.record_many(e for e in events if gate.admit(e))

        yield in_memory
        return
    prefix = request.getfixturevalue("redis_key_prefix")
    client = connect(REDIS_URL)
    yield (
        lambda per_client: (
            RedisPopularity(
                client, CONFIG, prefix, refresh_seconds=0, readers_per_client=per_client
            ).record_many
        )
    )
    client.close()


def test_invented_sessions_count_up_to_the_cap(make: Callable[[int], Count]) -> None:
    count = make(3)
    assert count(fake("0", 50)) == 3
    assert count(fake("1", 2)) == 2  # another client has a cap of its own
    assert count(fake("0", 5, article="b")) == 3  # and so has another story


def test_the_same_reader_again_is_left_to_the_session_window(make: Callable[[int], Count]) -> None:
    count = make(2)
    assert count(fake("0", 2)) == 2
    again = fake("0", 2, at=T + (WINDOW_MINUTES + 1) * 60)  # the same two sessions, later
    assert count(again) == 2  # a new window for the cap and for the sessions


def test_the_cap_opens_again_after_the_window(make: Callable[[int], Count]) -> None:
    count = make(3)
    assert count(fake("0", 10)) == 3
    later = T + WINDOW_MINUTES * 60 + 100
    assert count([Event(later, "click", "a", reader_session("0" * 16, "new"))]) == 1


def test_events_without_a_client_key_are_trusted(make: Callable[[int], Count]) -> None:
    count = make(1)
    assert count([Event(T, "click", "a", f"imported-{i}") for i in range(20)]) == 20


def test_replicas_share_the_cap(redis_key_prefix: str) -> None:
    one, two = (
        RedisPopularity(
            connect(REDIS_URL), CONFIG, redis_key_prefix, refresh_seconds=0, readers_per_client=4
        )
        for _ in "ab"
    )
    flood = fake("0", 40)
    counted = sum((one if i % 2 else two).record_many([e]) for i, e in enumerate(flood))
    assert counted == 4  # not 8: the cap holds across replicas
