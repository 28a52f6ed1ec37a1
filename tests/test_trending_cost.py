"""Bounded cost and memory. Trending ranks among the most read stories of the short window,
whatever the number of ids ever seen: fabricated ids neither slow it down nor displace real
stories. De-duplication state stays within its cap however fast events come."""

from __future__ import annotations

import itertools

from recommender.config import PopularityConfig
from recommender.events import Event
from recommender.popularity import TRENDING_POOL, Popularity
from recommender.readers import ReaderGate, reader_session

T = 1_800_000_000.0


def test_trending_ignores_a_long_tail_of_fabricated_ids() -> None:
    popularity = Popularity(PopularityConfig())
    for story in range(10):
        for reader in range(20 + story):
            popularity.record(Event(T - 60, "click", f"real-{story}", f"r{story}-{reader}"))
    popularity.record_many(Event(T, "click", f"fake-{i}", f"f{i}") for i in range(20_000))
    first = list(itertools.islice(popularity.ranked(T, "trending"), 10))
    assert {f"real-{s}" for s in range(10)} == set(first)
    # the head add() keeps has the pool's size; a later event does not force a full scan
    assert popularity.short._head_size == TRENDING_POOL
    popularity.record(Event(T, "click", "fake-x", "fx"))
    assert popularity.short._head is not None and len(popularity.short._head) == TRENDING_POOL


def test_deduplication_memory_is_bounded_however_fast_events_come() -> None:
    popularity = Popularity(PopularityConfig(dedup_max_entries=1_000))
    # 20k readers within one de-duplication window: far more than the table may hold
    popularity.record_many(
        Event(T + i * 0.01, "view", f"a{i % 50}", f"s{i}") for i in range(20_000)
    )
    assert len(popularity._last_counted) <= 1_000
    # the newest pairs are still remembered: a refresh now does not count again
    assert not popularity.record(Event(T + 200.0, "view", "a49", "s19999"))


def test_reader_gate_memory_is_bounded() -> None:
    gate = ReaderGate(window_seconds=1_800, per_client=3, max_entries=1_000)
    for i in range(20_000):
        gate.admit(Event(T + i * 0.01, "view", f"a{i}", reader_session(f"{i % 7:016x}", "s")))
    assert len(gate) <= 1_000
