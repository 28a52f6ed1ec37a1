"""Time-decayed popularity: decayed, long-decayed and all-time counters (decayed.py, one O(1)
update per event), session de-duplication in a fixed-size table (recent.py), and trending = the
short-half-life rate over the long-half-life rate.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Iterator
from typing import Protocol

import numpy as np

from recommender.config import PopularityConfig
from recommender.decayed import LN2, T0, DecayedCounters
from recommender.events import Event, EventAggregate
from recommender.recent import RecentKeys

# LN2 and T0 are the log-space clock the Redis scripts share
__all__ = ["LN2", "T0", "DecayedCounters", "Popularity", "PopularityCounters", "pair_key"]


def pair_key(session_id: str, article_id: str) -> int:
    """A stable 64-bit key of (session, article): the same in every process (snapshots)."""
    digest = hashlib.blake2b(f"{session_id}\0{article_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


WINDOWS = ("decayed", "trending", "alltime")
# trending ranks among this many of the most read stories of the short window
TRENDING_POOL = 500


def trending(short: np.ndarray, long: np.ndarray, config: PopularityConfig) -> np.ndarray:
    """The short-window rate over the long-window rate, from the two decayed sums."""
    rate_short = short * config.long_half_life_hours
    rate_long = long * config.half_life_hours
    # the +1 prior keeps a single fresh click from outranking a steady climber
    scaled: np.ndarray = rate_short / (rate_long + config.half_life_hours)
    return scaled


def log_scaled(values: np.ndarray, top: float) -> np.ndarray:
    """log1p(decayed count) scaled to [0, 1] by the most popular article's count `top`."""
    if top <= 0:
        return np.zeros(len(values))
    scaled: np.ndarray = np.log1p(values) / math.log1p(top)
    return scaled


class PopularityCounters(Protocol):
    """What ranking needs of popularity: any backend (in memory, Redis) that passes
    tests/test_popularity_contract.py plugs in unchanged."""

    def record(self, event: Event) -> bool: ...

    def record_many(self, events: Iterable[Event]) -> int: ...

    def scores(self, ids: list[str], now: float, window: str = "decayed") -> np.ndarray: ...

    def ranked(self, now: float, window: str = "decayed") -> Iterator[str]: ...

    def normalised(self, ids: list[str], now: float) -> np.ndarray: ...

    def health_problem(self) -> str | None:
        """Why the counters cannot be updated now, or None."""
        ...


class Popularity:
    """In memory: decayed, long-decayed and all-time counters fed by events, with session
    de-duplication."""

    def __init__(self, config: PopularityConfig) -> None:
        self.config = config
        self.short = DecayedCounters(config.half_life_hours * 3600)
        self.long = DecayedCounters(config.long_half_life_hours * 3600)
        self.alltime = DecayedCounters(None)
        self._weights = {
            "click": config.click_weight,
            "view": config.view_weight,
            "impression": config.impression_weight,
        }
        self._dedup_seconds = config.session_dedup_minutes * 60
        # (session, article) → when it last counted, keyed by a 64-bit hash; fixed size, so a
        # stream of new sessions does not grow memory (the oldest go when it is full)
        self._last_counted = RecentKeys(
            config.dedup_max_entries, self._dedup_seconds, keep=0.5, rows=False
        )

    def record(self, event: Event) -> bool:
        """Count one event; False when it carries no weight or is a repeat within the window."""
        if not self.admits(event):
            return False
        weight = self._weights[event.type]
        self.short.add(event.article_id, weight, event.ts)
        self.long.add(event.article_id, weight, event.ts)
        self.alltime.add(event.article_id, weight, event.ts)
        return True

    def admits(self, event: Event) -> bool:
        """Whether record() would count the event, remembering it as record() does (compaction
        counts old events this way without touching the counters)."""
        if self._weights.get(event.type, 0.0) <= 0:
            return False
        if event.session_id:
            # a refresh loop in one session must not push a story to the top
            key = pair_key(event.session_id, event.article_id)
            table = self._last_counted
            at = table.find(key)
            if at < 0:
                table.insert(key, event.ts)
            elif abs(event.ts - table.time_at(at)) < self._dedup_seconds:
                return False
            else:
                table.touch(at, event.ts)
        return True

    def record_many(self, events: Iterable[Event]) -> int:
        return sum(self.record(e) for e in events)

    def record_aggregates(self, aggregates: Iterable[EventAggregate]) -> int:
        """Count compacted hours (already de-duplicated when they were compacted) at the middle
        of their hour. Returns the events counted."""
        counted = 0
        for aggregate in aggregates:
            weight = self._weights.get(aggregate.type, 0.0)
            if weight <= 0 or aggregate.counted <= 0:
                continue
            for counters in (self.short, self.long, self.alltime):
                counters.add(aggregate.article_id, weight * aggregate.counted, aggregate.ts)
            counted += aggregate.counted
        return counted

    def dedup_state(self) -> dict[str, np.ndarray]:
        """The session de-duplication of the current window (a snapshot keeps it)."""
        return self._last_counted.state()

    def restore_dedup(self, state: dict[str, np.ndarray]) -> None:
        self._last_counted.restore(state)

    def counters(self, window: str) -> DecayedCounters:
        return {"decayed": self.short, "alltime": self.alltime}.get(window, self.short)

    def scores(self, ids: list[str], now: float, window: str = "decayed") -> np.ndarray:
        if window == "trending":
            return self._trending(ids, now)
        return self.counters(window).values(ids, now)

    def _trending(self, ids: list[str], now: float) -> np.ndarray:
        return trending(self.short.values(ids, now), self.long.values(ids, now), self.config)

    def ranked(self, now: float, window: str = "decayed") -> Iterator[str]:
        if window != "trending":
            yield from self.counters(window).ranked()
            return
        # candidates: the stories with the most readers now (the head add() keeps), never a
        # scan of every id ever seen, so fabricated ids cannot slow this down. The three counters
        # are always added to in the same order, so an article has the same slot in each: the
        # long window's values are a gather by slot, not a lookup per id.
        slots = self.short.head(TRENDING_POOL)[:TRENDING_POOL]
        short, long = self.short.values_at(slots, now), self.long.values_at(slots, now)
        rates = trending(short, long, self.config)
        order = np.argsort(-rates, kind="stable")
        yield from self.short.ids_at(slots[order[rates[order] > 0]])

    def top(self, count: int) -> list[str]:
        """The first `count` ids of ranked(now) (decayed): one list, kept while the head is the
        same. Read it, never change it."""
        return self.short.top_ids(count)

    def normalised(self, ids: list[str], now: float) -> np.ndarray:
        """log1p(decayed count) scaled to [0, 1] by the most popular article now."""
        return self.normalised_of(self.short.slots(ids), now)

    def normalised_of(self, slots: np.ndarray, now: float) -> np.ndarray:
        """normalised() by the decayed counters' slots (self.short.slots; -1: never counted)."""
        top = self.short.max_value(now)
        if top <= 0:
            return np.zeros(len(slots))
        return log_scaled(self.short.values_of(slots, now), top)

    def health_problem(self) -> str | None:
        """In process: always there."""
        return None
