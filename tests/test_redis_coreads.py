"""Co-reads in the real Redis (redis_coreads.RedisCoReads): equal to the in-process table
(coreads.CoReads) whether fed in one batch or event by event, decayed, bounded, cached on the
read path, and serving its cache (or nothing) while Redis is down."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.config import CoReadConfig, PopularityConfig
from recommender.coreads import CoReads
from recommender.events import Event
from recommender.redis_coreads import RedisCoReads
from recommender.redis_state import RedisPopularity
from recommender.redis_support import connect
from recommender.service.shared import SharedUpkeep
from recommender.store.memory import MemoryStore
from tests.servers import REDIS_URL
from tests.test_coreads import NO_DECAY, random_events

IDS = [f"a{i}" for i in range(40)]


def shared(prefix: str, config: CoReadConfig, cache_size: int = 10_000) -> RedisCoReads:
    return RedisCoReads(connect(REDIS_URL), config, prefix, cache_seconds=0, cache_size=cache_size)


def assert_same(memory: CoReads, redis_table: RedisCoReads, now: float) -> None:
    for query in IDS:
        got, want = redis_table.similarities(query, IDS, now), memory.similarities(query, IDS, now)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)
        assert [b for b, _ in redis_table.neighbours(query, 4, now)] == [
            b for b, _ in memory.neighbours(query, 4, now)
        ]


@pytest.mark.parametrize("config", [NO_DECAY, CoReadConfig(half_life_hours=6.0)])
def test_redis_equals_the_in_process_table_batch_and_incremental(
    redis_key_prefix: str, config: CoReadConfig
) -> None:
    events = random_events(1_500, seed=4)
    memory = CoReads(config)
    recorded = memory.record_many(events)
    batch, incremental = shared(redis_key_prefix + "b", config), shared(redis_key_prefix, config)
    assert batch.record_many(events) == recorded
    steps = range(0, len(events), 97)
    assert sum(incremental.record_many(events[i : i + 97]) for i in steps) == recorded
    now = events[-1].ts
    assert_same(memory, batch, now)
    assert_same(memory, incremental, now)
    for key in incremental.client.scan_iter(match=f"{{{redis_key_prefix}b}}*"):
        incremental.client.delete(key)


def test_partners_sessions_and_the_cache_are_bounded(redis_key_prefix: str) -> None:
    config = CoReadConfig(neighbours=3, session_items=6, session_gap_hours=1.0)
    table = shared(redis_key_prefix, config, cache_size=5)
    table.record_many(random_events(5_000, seed=5, articles=120, sessions=200))
    client = table.client
    assert all(table.entries(f"a{i}") <= 6 for i in range(120))
    sessions = list(client.scan_iter(match=f"{{{redis_key_prefix}}}:co:s:*"))
    assert sessions and all(client.llen(s) <= 6 for s in sessions)
    assert all(0 < client.ttl(s) <= 3600 for s in sessions)  # sessions expire after the gap
    for article_id in IDS:
        table.neighbours(article_id, 3)
    assert len(table._cache) == 5


def test_counted_in_the_counters_transaction_and_read_through_the_cache(
    redis_key_prefix: str,
) -> None:
    table = RedisCoReads(connect(REDIS_URL), CoReadConfig(), redis_key_prefix, cache_seconds=60)
    counters = RedisPopularity(
        connect(REDIS_URL), PopularityConfig(), redis_key_prefix, riders=[table]
    )
    t = 1_800_000_000.0
    assert table.neighbours("x", 3, t) == []  # cached as empty for a minute
    reads = [Event(t + i, "view", a, f"s{i % 4}") for i, a in enumerate("xxxxyyyy")]
    assert counters.record_many(reads) == 8
    assert table.neighbours("x", 3, t) == []  # the cache is still fresh: no round trip
    table._cache.clear()
    assert [b for b, _ in table.neighbours("x", 3, t)] == ["y"]


def test_reads_serve_the_cache_while_redis_is_down(redis_key_prefix: str) -> None:
    table = shared(redis_key_prefix, CoReadConfig())
    t = 1_800_000_000.0
    table.record_many([Event(t, "view", "x", "s"), Event(t + 1, "view", "y", "s")])
    assert [b for b, _ in table.neighbours("x", 3, t)] == ["y"]
    table.client = connect("redis://127.0.0.1:1/0")
    table._read = table.client.register_script(table._read.script)
    assert [b for b, _ in table.neighbours("x", 3, t)] == ["y"]  # the last copy
    assert table.neighbours("unknown", 3, t) == []


def test_seeding_the_counters_fills_the_table_and_an_upgrade_seeds_it_alone(
    redis_key_prefix: str,
) -> None:
    t = 1_800_000_000.0
    log = [Event(t + i, "view", a, f"s{i % 3}") for i, a in enumerate("xyxyzz")]
    table = shared(redis_key_prefix, CoReadConfig())
    counters = RedisPopularity(connect(REDIS_URL), PopularityConfig(), redis_key_prefix)
    counters.riders = [table]
    assert table.needs_seed()
    assert counters.seed(log) is not None
    assert not table.needs_seed()  # the counters' seeding filled it
    expected = table.neighbours("x", 3, t)
    assert expected
    # an upgrade: counters seeded long ago, the co-read table empty
    table.client.delete(*table.client.keys(f"{{{redis_key_prefix}}}:co:*"))
    assert table.needs_seed() and table.neighbours("x", 3, t) == []
    assert table.seed(log) == len(log)  # six distinct (session, story) reads
    assert not table.needs_seed() and table.neighbours("x", 3, t) == expected


def test_a_replica_seeds_an_empty_co_read_table_once_after_an_upgrade(
    redis_key_prefix: str,
) -> None:
    t = 1_800_000_000.0
    store = MemoryStore()
    store.add_events([Event(t + i, "view", a, f"s{i % 2}") for i, a in enumerate("xyyx")])
    table = shared(redis_key_prefix, CoReadConfig())
    counters = RedisPopularity(
        connect(REDIS_URL), PopularityConfig(), redis_key_prefix, riders=[table]
    )
    counters.client.set(f"{{{redis_key_prefix}}}:seeded", "1")  # seeded by an older version
    upkeep = SharedUpkeep(store, None, counters, None, 60.0)  # type: ignore[arg-type]
    upkeep.count_backlog()
    assert [b for b, _ in table.neighbours("x", 3, t)] == ["y"]
    store.add_events([Event(t + 9, "view", "z", "s0")])
    upkeep.count_backlog()  # once: the log is not learned again
    assert [b for b, _ in table.neighbours("x", 3, t)] == ["y"]
