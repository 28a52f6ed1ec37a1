"""Redis-only behaviour, on the real server: replicas share counts and de-duplication, the
event log re-seeds an empty Redis, and a replica keeps serving its copy while Redis is down."""

from __future__ import annotations

import pytest

from recommender.config import PopularityConfig
from recommender.errors import SharedStateUnavailable
from recommender.events import Event
from recommender.redis_feed import RedisFeed
from recommender.redis_state import RedisPopularity
from recommender.redis_support import connect
from tests.proxy import TcpProxy
from tests.servers import REDIS_URL

T = 1_800_000_000.0


def test_two_replicas_share_counts_and_session_deduplication(redis_key_prefix: str) -> None:
    a, b = (
        RedisPopularity(connect(REDIS_URL), PopularityConfig(), redis_key_prefix, refresh_seconds=0)
        for _ in range(2)
    )
    assert a.record(Event(T, "click", "x", "s1"))
    assert not b.record(Event(T + 60, "click", "x", "s1"))  # the same reader, on the other one
    assert b.record(Event(T, "click", "y", "s2")) and b.record(Event(T, "click", "y", "s3"))
    assert list(a.ranked(T)) == list(b.ranked(T)) == ["y", "x"]


def test_an_empty_redis_is_seeded_once_from_the_event_log(redis_key_prefix: str) -> None:
    popularity = RedisPopularity(
        connect(REDIS_URL), PopularityConfig(), redis_key_prefix, refresh_seconds=0
    )
    assert popularity.needs_seed()
    log = [Event(T, "click", "a", f"s{i}") for i in range(3)]
    assert popularity.seed(log) == 3
    assert not popularity.needs_seed()
    assert popularity.scores(["a"], T)[0] == pytest.approx(3.0)


def test_reads_serve_the_last_copy_while_redis_is_down(redis_key_prefix: str) -> None:
    with TcpProxy(6379) as proxy:
        client = connect(f"redis://127.0.0.1:{proxy.port}/0", timeout=0.3)
        popularity = RedisPopularity(
            client, PopularityConfig(), redis_key_prefix, refresh_seconds=0
        )
        popularity.record(Event(T, "click", "a", "s1"))
        assert list(popularity.ranked(T)) == ["a"]
        proxy.stop()
        assert popularity.health_problem() is not None
        assert list(popularity.ranked(T)) == ["a"]  # the copy, not an error
        with pytest.raises(SharedStateUnavailable):
            popularity.record(Event(T, "click", "b", "s2"))
        proxy.start()
        assert popularity.health_problem() is None
        assert popularity.record(Event(T, "click", "b", "s2"))


def test_feed_delivers_entries_after_a_position(redis_key_prefix: str) -> None:
    feed = RedisFeed(connect(REDIS_URL, read_timeout=3), redis_key_prefix, "a")
    start = feed.latest()
    assert feed.wait(start, 0.05) == (start, 0)
    feed.publish(7)
    feed.publish(8)
    last, count = feed.wait(start, 1.0)
    assert count == 2 and last != start
    assert feed.wait(last, 0.05) == (last, 0)
