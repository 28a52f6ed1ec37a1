"""Trending ranks among the most read stories of the short window, whatever the number of ids
ever seen: fabricated ids with one event each neither slow it down nor displace real stories."""

from __future__ import annotations

import itertools

from recommender.config import PopularityConfig
from recommender.events import Event
from recommender.popularity import TRENDING_POOL, Popularity

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
