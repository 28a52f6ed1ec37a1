"""State shared by replicas through Redis: decayed popularity counters, session de-duplication
and the reader caps (the change feed is in redis_feed, rate limits in redis_limits, co-reads in
redis_coreads).

Counters are sorted sets holding, per article, log(sum_i w_i * 2^((t_i - T0)/h)) as in
popularity.DecayedCounters: one event is one atomic Lua update of the three windows, no sweep
ever decays anything. Every key carries the prefix in a hash tag, `{prefix}:...`, so one
script's keys share a Redis Cluster slot and several sites (or test runs) share one Redis.

Reads never wait on Redis: each replica serves from a copy of the head of the counters (the top
`snapshot_size` articles), refreshed by a thread every `refresh_seconds`, and keeps serving that
copy while Redis is down.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Protocol

import numpy as np
import redis

from recommender.config import PopularityConfig
from recommender.events import Event, EventAggregate
from recommender.popularity import LN2, T0, log_scaled, trending
from recommender.readers import client_of

# connect: re-exported for the callers that import it from here
from recommender.redis_support import connect as connect
from recommender.redis_support import guarded, learn_once

log = logging.getLogger(__name__)

# one Lua call counts a batch of events; count_events.lua says what its KEYS and ARGV hold
COUNT_EVENTS = Path(__file__).with_name("count_events.lua").read_text().replace("ORIGIN", repr(T0))


# events per script call: a call holds Redis for its duration (~30 µs an event, ~15 ms a call)
SCRIPT_BATCH = 500


class Rider(Protocol):
    """A table that counts events in the counters' transaction (redis_coreads.RedisCoReads)."""

    def queue(self, pipe: redis.client.Pipeline, events: Sequence[Event]) -> None: ...

    def mark_seeded(self) -> None:
        """The counters' seeding replayed the whole log through the rider too."""


@dataclass
class _Window:
    """One window's head as fetched: ids best first and their stored log values."""

    ids: list[str] = field(default_factory=list)
    logs: np.ndarray = field(default_factory=lambda: np.zeros(0))
    slot: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, ids: list[str], logs: Iterable[float | None]) -> _Window:
        values = np.array([-np.inf if v is None else v for v in logs], dtype=np.float64)
        return cls(ids, values, {article_id: i for i, article_id in enumerate(ids)})

    def values(self, ids: Iterable[str], decay: float) -> np.ndarray:
        slots = np.fromiter((self.slot.get(i, -1) for i in ids), dtype=np.int64)
        if not self.ids:
            return np.zeros(len(slots))
        logs = np.where(slots >= 0, self.logs[np.maximum(slots, 0)], -np.inf)
        return np.exp(logs - decay)


@dataclass
class _Head:
    short: _Window = field(default_factory=_Window)
    long: _Window = field(default_factory=_Window)  # the long values of short's ids
    alltime: _Window = field(default_factory=_Window)


class RedisPopularity:
    """PopularityCounters shared by every replica (tests/test_popularity_contract.py)."""

    def __init__(
        self,
        client: redis.Redis,
        config: PopularityConfig,
        prefix: str = "recommender",
        *,
        snapshot_size: int = 5_000,
        refresh_seconds: float = 1.0,
        readers_per_client: int | None = None,
        riders: Sequence[Rider] = (),
    ) -> None:
        """readers_per_client: readers.ReaderGate's cap, kept in Redis for every replica.
        riders: what else counts each batch in the same transaction (the co-read table)."""
        self.client = client
        self.riders = riders
        self.readers_per_client = readers_per_client
        self.config = config
        self.key = f"{{{prefix}}}"
        self.windows = [f"{self.key}:pop:{name}" for name in ("short", "long", "alltime")]
        self.rates = (
            LN2 / (config.half_life_hours * 3600),
            LN2 / (config.long_half_life_hours * 3600),
        )
        self.snapshot_size = snapshot_size
        self.refresh_seconds = refresh_seconds
        self._weights = {
            "click": config.click_weight,
            "view": config.view_weight,
            "impression": config.impression_weight,
        }
        self._count = client.register_script(COUNT_EVENTS)
        self._head = _Head()
        self._lock = threading.Lock()
        self._retry_at = 0.0
        self._refresher: threading.Thread | None = None
        self._stop = threading.Event()

    def record(self, event: Event) -> bool:
        return self.record_many([event]) == 1

    def record_many(self, events: Iterable[Event]) -> int:
        """Count the events, and let the riders count them, in one MULTI/EXEC: all of it or,
        when Redis fails, none."""
        batch = list(events)
        weighted = [(e, self._weights.get(e.type, 0.0)) for e in batch]
        weighted = [(e, w) for e, w in weighted if w > 0]
        window = self.config.session_dedup_minutes * 60
        pipe = self.client.pipeline(transaction=True)
        for start in range(0, len(weighted), SCRIPT_BATCH):
            keys = list(self.windows)
            args: list[str | float] = [*self.rates, window, self.readers_per_client or 0]
            for event, weight in weighted[start : start + SCRIPT_BATCH]:
                keys += [self._seen_key(event), self._gate_key(event)]
                args += [event.article_id, math.log(weight), event.ts, event.session_id or ""]
            self._count(keys=keys, args=args, client=pipe)
        ours = len(pipe)
        for rider in self.riders:
            rider.queue(pipe, batch)
        if not len(pipe):
            return 0
        with guarded():
            return sum(int(counted) for counted in pipe.execute()[:ours])

    def _seen_key(self, event: Event) -> str:
        if not event.session_id:
            return ""
        return f"{self.key}:seen:{event.session_id}:{event.article_id}"

    def _gate_key(self, event: Event) -> str:
        client = client_of(event.session_id) if self.readers_per_client else None
        return f"{self.key}:readers:{client}:{event.article_id}" if client else ""

    def needs_seed(self) -> bool:
        """True when these counters were never filled from the event log (a new or restarted
        Redis: it keeps nothing on disk)."""
        with guarded():
            return not self.client.exists(f"{self.key}:seeded")

    def seed(
        self,
        events: Iterable[Event],
        aggregates: Iterable[EventAggregate] = (),
        chunk: int = 2_000,
    ) -> int | None:
        """Count the whole event log once, the compacted hours first (as a start-up in process
        does: popularity.record_aggregates); None when another replica is doing it."""
        with guarded():
            counted = learn_once(
                self.client,
                self.key,
                self.record_many,
                events,
                chunk,
                self._riders_seeded,
                first=lambda: self.record_aggregates(aggregates),
            )
        self._retry_at = 0.0
        return counted

    def record_aggregates(self, aggregates: Iterable[EventAggregate]) -> int:
        """Count compacted hours at the middle of their hour, as popularity.record_aggregates:
        de-duplicated when compacted, so through the counting script without reader keys."""
        counted = 0
        rows = (a for a in aggregates if self._weights.get(a.type, 0.0) > 0 and a.counted > 0)
        while batch := list(islice(rows, SCRIPT_BATCH)):
            args: list[str | float] = [*self.rates, 0, 0]
            for row in batch:
                weight = math.log(self._weights[row.type] * row.counted)
                args += [row.article_id, weight, row.ts, ""]
            with guarded():
                self._count(keys=[*self.windows, *[""] * (2 * len(batch))], args=args)
            counted += sum(row.counted for row in batch)
        return counted

    def _riders_seeded(self) -> None:
        for rider in self.riders:
            rider.mark_seeded()

    def _current(self) -> _Head:
        """The head copy. A thread of its own refreshes it every refresh_seconds, so a request
        never waits on Redis (a 5,000-article head takes ~20 ms to read and parse); with
        refresh_seconds 0 every read refreshes (tests, one-off tools)."""
        if self.refresh_seconds <= 0:
            self._refresh()
        elif self._refresher is None or not self._refresher.is_alive():
            with self._lock:
                if self._refresher is None or not self._refresher.is_alive():
                    self._refresh()  # the first read sees the counters, not an empty copy
                    self._refresher = threading.Thread(
                        target=self._keep_fresh, name="popularity-refresh", daemon=True
                    )
                    self._refresher.start()
        return self._head

    def _keep_fresh(self) -> None:
        while not self._stop.wait(self.refresh_seconds):
            self._refresh()

    def _refresh(self) -> None:
        """While Redis is down the last copy serves, and a new try waits a second."""
        now = time.monotonic()
        if now < self._retry_at:
            return
        try:
            self._head = self._fetch()
        except redis.RedisError as exc:
            self._retry_at = now + 1.0
            log.warning("popularity.refresh_failed", extra={"reason": str(exc)})

    def stop(self) -> None:
        """End the refresh thread (a later read starts it again)."""
        self._stop.set()
        if self._refresher is not None:
            self._refresher.join(timeout=5)
            self._refresher = None
        self._stop.clear()

    def _fetch(self) -> _Head:
        short_key, long_key, alltime_key = self.windows
        pipe = self.client.pipeline(transaction=False)
        pipe.zrevrange(short_key, 0, self.snapshot_size - 1, withscores=True)
        pipe.zrevrange(alltime_key, 0, self.snapshot_size - 1, withscores=True)
        short_rows, alltime_rows = pipe.execute()
        ids = [member for member, _ in short_rows]
        long_logs = self.client.zmscore(long_key, ids) if ids else []
        return _Head(
            short=_Window.of(ids, (score for _, score in short_rows)),
            long=_Window.of(ids, long_logs),
            alltime=_Window.of([m for m, _ in alltime_rows], (score for _, score in alltime_rows)),
        )

    def _decay(self, now: float, long: bool = False) -> float:
        return self.rates[1 if long else 0] * (now - T0)

    def scores(self, ids: list[str], now: float, window: str = "decayed") -> np.ndarray:
        head = self._current()
        if window == "trending":
            short = head.short.values(ids, self._decay(now))
            return trending(short, head.long.values(ids, self._decay(now, True)), self.config)
        if window == "alltime":
            return head.alltime.values(ids, 0.0)
        return head.short.values(ids, self._decay(now))

    def ranked(self, now: float, window: str = "decayed") -> Iterator[str]:
        head = self._current()
        if window == "alltime":
            yield from head.alltime.ids
        elif window == "trending":
            ids = head.short.ids
            scores = self.scores(ids, now, "trending")
            yield from (ids[i] for i in np.argsort(-scores, kind="stable") if scores[i] > 0)
        else:
            yield from head.short.ids

    def normalised(self, ids: list[str], now: float) -> np.ndarray:
        head = self._current()
        if not head.short.ids:
            return np.zeros(len(ids))
        decay = self._decay(now)
        top = float(np.exp(head.short.logs[0] - decay))
        return log_scaled(head.short.values(ids, decay), top)

    def health_problem(self) -> str | None:
        try:
            self.client.ping()
        except redis.RedisError as exc:
            return f"redis unreachable: {type(exc).__name__}"
        return None
