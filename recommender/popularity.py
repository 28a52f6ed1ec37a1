"""Time-decayed popularity: one O(1) update per event, kept in log space.

A counter with half-life h holds log(sum_i w_i * 2^((t_i - T0)/h)) for a fixed origin T0.
Its value at time t is exp(stored - (t - T0)/h * ln 2): every article decays by the same factor,
so the ranking by stored value never changes with the clock and no sweep over all articles is
ever needed. Trending = the short-half-life rate over the long-half-life rate.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Iterable, Iterator
from typing import Protocol

import numpy as np

from recommender.config import PopularityConfig
from recommender.events import Event, EventAggregate

LN2 = math.log(2.0)
# origin of the log-space clock; any fixed time works, this one keeps exponents small
T0 = 1_700_000_000.0


class DecayedCounters:
    """Per-article decayed sums with one half-life, stored in a growable numpy array."""

    def __init__(self, half_life_seconds: float | None) -> None:
        # None = no decay (all-time counts)
        self.rate = 0.0 if half_life_seconds is None else LN2 / half_life_seconds
        self._slot: dict[str, int] = {}
        self._ids: list[str] = []
        self._log = np.full(1024, -np.inf)
        # Serving caches, kept exact by add(). A stored value only ever grows (each event adds a
        # positive term), so the largest one is a running max, and the top `_head_size` slots
        # change only when a slot rises above the smallest of them. Without these, every
        # request scanned all articles (np.max, argpartition): ~1 ms per request at 1M.
        self._max_log = -math.inf
        self._head: list[int] | None = None  # slots of the top _head_size values, any order
        self._head_set: set[int] = set()
        self._head_size = 0
        self._head_floor = -math.inf  # smallest value in a full head; -inf while not full
        self._head_sorted: np.ndarray | None = None

    def add(self, article_id: str, weight: float, ts: float) -> None:
        slot = self._slot.get(article_id)
        if slot is None:
            slot = len(self._ids)
            self._slot[article_id] = slot
            self._ids.append(article_id)
            if slot >= len(self._log):
                self._log = np.concatenate([self._log, np.full(len(self._log), -np.inf)])
        term = math.log(weight) + self.rate * (ts - T0)
        current = float(self._log[slot])
        if current == -math.inf:
            self._log[slot] = term
        else:
            high, low = (current, term) if current >= term else (term, current)
            self._log[slot] = high + math.log1p(math.exp(low - high))
        stored = float(self._log[slot])
        self._max_log = max(self._max_log, stored)
        if self._head is not None:
            self._update_head(slot, stored)

    def _update_head(self, slot: int, stored: float) -> None:
        if slot in self._head_set:
            self._head_sorted = None  # same members, new order
            return
        if stored <= self._head_floor:
            return  # still below every slot in the head
        assert self._head is not None
        # it joins the head; the smallest member leaves (every outsider is below that one)
        self._head.append(slot)
        self._head_set.add(slot)
        if len(self._head) > self._head_size:
            smallest = int(np.argmin(self._log[self._head]))
            self._head_set.discard(self._head.pop(smallest))
        if len(self._head) >= self._head_size:
            self._head_floor = float(np.min(self._log[self._head]))
        self._head_sorted = None

    def value(self, article_id: str, now: float) -> float:
        slot = self._slot.get(article_id)
        if slot is None:
            return 0.0
        return math.exp(float(self._log[slot]) - self.rate * (now - T0))

    def values(self, ids: Iterable[str], now: float) -> np.ndarray:
        # one vectorised gather instead of a numpy scalar read per id
        slots = np.fromiter((self._slot.get(i, -1) for i in ids), dtype=np.int64)
        logs = np.where(slots >= 0, self._log[np.maximum(slots, 0)], -np.inf)
        return np.exp(logs - self.rate * (now - T0))

    def max_value(self, now: float) -> float:
        if not self._ids:
            return 0.0
        return math.exp(self._max_log - self.rate * (now - T0))

    def ranked(self, first: int = 64) -> Iterator[str]:
        """Article ids by value, highest first. Sorts only the head unless more is consumed."""
        count = len(self._ids)
        logs = self._log[:count]
        # one head serves every caller: the largest size asked for so far
        first = max(first, self._head_size)
        head = min(first, count)
        if head == 0:
            return
        if self._head is None or self._head_size != first:
            # a full scan only on the first request (or a new head size); add() keeps it after
            top = np.argpartition(-logs, head - 1)[:head] if head < count else np.arange(count)
            self._head = [int(slot) for slot in top]
            self._head_set = set(self._head)
            self._head_size = first
            self._head_floor = float(np.min(logs[top])) if head == first else -math.inf
            self._head_sorted = None
        if self._head_sorted is None:
            # best first; equal values keep slot order, as the stable sort over all did
            slots = np.array(self._head, dtype=np.int64)
            self._head_sorted = slots[np.lexsort((slots, -logs[slots]))]
        top = self._head_sorted
        for slot in top:
            yield self._ids[slot]
        if head < count:
            seen = set(top.tolist())
            for slot in np.argsort(-logs, kind="stable"):
                if int(slot) not in seen:
                    yield self._ids[slot]

    def __len__(self) -> int:
        return len(self._ids)

    def state(self) -> tuple[list[str], np.ndarray]:
        """What a snapshot keeps: the ids in slot order and their stored values."""
        return list(self._ids), self._log[: len(self._ids)].copy()

    def restore(self, ids: list[str], logs: np.ndarray) -> None:
        self._ids = list(ids)
        self._slot = {article_id: slot for slot, article_id in enumerate(self._ids)}
        self._log = np.full(max(1024, 2 * len(ids)), -np.inf)
        self._log[: len(ids)] = logs
        self._max_log = float(np.max(logs)) if len(ids) else -math.inf
        self._head = None
        self._head_size = 0


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
        # keyed by a 64-bit hash of (session, article): a fraction of the strings' memory
        self._last_counted: dict[int, float] = {}
        self._max_entries = config.dedup_max_entries
        self._prune_at = min(100_000, self._max_entries)

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
            last = self._last_counted.get(key)
            if last is not None and abs(event.ts - last) < self._dedup_seconds:
                return False
            self._last_counted[key] = event.ts
            if len(self._last_counted) > self._prune_at:
                self._prune(event.ts)
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

    def _prune(self, now: float) -> None:
        """Forget pairs older than the window and, when a stream is faster than the window can
        hold, the oldest beyond half the cap (a refresh loop from one client is still held back
        by the reader gate and the rate limit). In place, from the front (insertion order is
        about time order): no second table, so memory does not step up at each prune."""
        horizon = now - self._dedup_seconds
        table = self._last_counted
        excess = len(table) - self._max_entries // 2
        doomed: list[int] = []
        for key, ts in table.items():
            if ts >= horizon and len(doomed) >= excess:
                break
            doomed.append(key)
        for key in doomed:
            del table[key]
        self._prune_at = min(self._max_entries, max(100_000, 2 * len(table)))

    def dedup_state(self) -> dict[int, float]:
        """The session de-duplication of the current window (a snapshot keeps it)."""
        self._prune(max(self._last_counted.values(), default=0.0))
        return dict(self._last_counted)

    def restore_dedup(self, last_counted: dict[int, float]) -> None:
        self._last_counted = dict(last_counted)

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
        # scan of every id ever seen, so fabricated ids cannot slow this down
        ids = list(itertools.islice(self.short.ranked(TRENDING_POOL), TRENDING_POOL))
        scores = self._trending(ids, now)
        for i in np.argsort(-scores, kind="stable"):
            if scores[i] > 0:
                yield ids[i]

    def normalised(self, ids: list[str], now: float) -> np.ndarray:
        """log1p(decayed count) scaled to [0, 1] by the most popular article now."""
        top = self.short.max_value(now)
        return log_scaled(self.short.values(ids, now), top) if top > 0 else np.zeros(len(ids))

    def health_problem(self) -> str | None:
        """In process: always there."""
        return None
