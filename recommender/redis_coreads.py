"""Co-reads shared by every replica: the co-read table of recommender.coreads kept in Redis,
so clicks on one replica teach "readers of this story also read" on all of them, and no replica
replays the event log for it at start.

Writes ride in the popularity counters' transaction (RedisPopularity's `riders`): a batch of
events is counted, capped and co-read in one round trip, all or nothing, and events counted
later (Redis was down) or at seeding reach the co-reads too. Reads go through a small local
cache per article (`cache_seconds` old at most, `cache_size` articles), so /related does not
pay a Redis round trip per request; while Redis is down the cached (or no) partners serve."""

from __future__ import annotations

import heapq
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import redis

from recommender.config import CoReadConfig
from recommender.coreads import HOUR, READ_TYPES
from recommender.events import Event
from recommender.popularity import LN2, T0
from recommender.redis_support import guarded, learn_once

log = logging.getLogger(__name__)

_HERE = Path(__file__).parent
RECORD = (_HERE / "coreads.lua").read_text().replace("ORIGIN", repr(T0))
READ = (_HERE / "coreads_read.lua").read_text()
RETRY_SECONDS = 1.0  # while Redis is down, a cache miss tries it again at most this often
SCRIPT_BATCH = 500  # reads per script call: a call holds Redis while it runs


@dataclass(frozen=True, slots=True)
class _Partners:
    """One article's partners as fetched: log N of the article, and per partner (log C, log N)."""

    fetched: float
    own: float
    logs: dict[str, tuple[float, float]]


EMPTY = _Partners(0.0, -math.inf, {})


class RedisCoReads:
    """CoReadSource over Redis (tests/test_redis_coreads.py: equal to coreads.CoReads)."""

    def __init__(
        self,
        client: redis.Redis,
        config: CoReadConfig,
        prefix: str = "recommender",
        *,
        cache_seconds: float = 1.0,
        cache_size: int = 10_000,
    ) -> None:
        self.client = client
        self.config = config
        self.key = f"{{{prefix}}}:co"
        self.rate = LN2 / (config.half_life_hours * HOUR)
        self.cache_seconds = cache_seconds
        self.cache_size = cache_size
        self._record = client.register_script(RECORD)
        self._read = client.register_script(READ)
        self._cache: OrderedDict[str, _Partners] = OrderedDict()
        self._lock = threading.Lock()
        self._retry_at = 0.0

    # writes ------------------------------------------------------------------------------

    def queue(self, pipe: redis.client.Pipeline, events: Sequence[Event]) -> None:
        """Add the reads among `events` to a pipeline (the caller executes it)."""
        reads = [e for e in events if e.type in READ_TYPES and e.session_id]
        config = self.config
        head: list[str | float] = [self.key, self.rate, config.session_gap_hours * HOUR]
        head += [config.session_items, config.neighbours]
        for start in range(0, len(reads), SCRIPT_BATCH):
            args = list(head)
            for e in reads[start : start + SCRIPT_BATCH]:
                args += [e.session_id or "", e.article_id, e.ts]
            self._record(keys=[], args=args, client=pipe)

    def record_many(self, events: Sequence[Event]) -> int:
        """Count reads on their own (tests, tools); the service counts through popularity."""
        pipe = self.client.pipeline(transaction=True)
        self.queue(pipe, events)
        return sum(int(n) for n in pipe.execute())

    def mark_seeded(self) -> None:
        with guarded():
            self.client.set(f"{self.key}:seeded", "1")

    def needs_seed(self) -> bool:
        """True when the table never learned the event log: the counters were seeded before
        co-reads moved to Redis (an upgrade). A Redis restart empties both, and the counters'
        seeding then fills the table too."""
        with guarded():
            return not self.client.exists(f"{self.key}:seeded")

    def seed(self, events: Iterable[Event], chunk: int = 2_000) -> int | None:
        """Learn the whole event log once; None when another replica is doing it."""
        with guarded():
            return learn_once(self.client, self.key, self.record_many, events, chunk)

    # reads -------------------------------------------------------------------------------

    def _partners(self, article_id: str) -> _Partners:
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(article_id)
        if cached is not None and now - cached.fetched < self.cache_seconds:
            return cached
        if now < self._retry_at:
            return cached or EMPTY
        keys = [f"{self.key}:n", f"{self.key}:p:{article_id}"]
        try:
            row = self._read(keys=keys, args=[article_id])
        except redis.RedisError as exc:
            self._retry_at = now + RETRY_SECONDS
            log.warning("coreads.read_failed", extra={"reason": str(exc)})
            return cached or EMPTY
        fresh = _Partners(now, -math.inf, {})
        if row:
            logs = {row[i]: (float(row[i + 1]), float(row[i + 2])) for i in range(1, len(row), 3)}
            fresh = _Partners(now, float(row[0]), logs)
        with self._lock:
            self._cache[article_id] = fresh
            self._cache.move_to_end(article_id)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return fresh

    def _sims(self, partners: _Partners, ids: Sequence[str], now: float | None) -> np.ndarray:
        """sim = C / (sqrt(N(a) N(b)) + shrinkage), every term decayed to `now`."""
        decay = self.rate * ((time.time() if now is None else now) - T0)
        missing = (-math.inf, -math.inf)
        pair = np.array([partners.logs.get(i, missing) for i in ids], dtype=np.float64)
        pair = pair.reshape(-1, 2)
        together = np.exp(pair[:, 0] - decay)
        norm = np.exp((partners.own + pair[:, 1]) / 2 - decay)
        with np.errstate(invalid="ignore", divide="ignore"):
            sims = together / (norm + self.config.shrinkage)
        return np.asarray(np.nan_to_num(sims, nan=0.0), dtype=np.float64)

    def neighbours(
        self, article_id: str, k: int, now: float | None = None
    ) -> list[tuple[str, float]]:
        """The k articles most read together with this one, strongest first."""
        partners = self._partners(article_id)
        if not partners.logs:
            return []
        ids = list(partners.logs)
        sims = self._sims(partners, ids, now)
        return heapq.nlargest(k, zip(ids, sims.tolist(), strict=True), key=lambda item: item[1])

    def similarities(
        self, article_id: str, candidate_ids: Sequence[str], now: float | None = None
    ) -> np.ndarray:
        """Each candidate's co-read similarity to the article, in [0, 1]."""
        partners = self._partners(article_id)
        if not partners.logs or not candidate_ids:
            return np.zeros(len(candidate_ids))
        return np.asarray(np.minimum(self._sims(partners, candidate_ids, now), 1.0))

    def entries(self, article_id: str) -> int:
        """Partners held for one article in Redis (at most 2 x neighbours)."""
        return int(self.client.zcard(f"{self.key}:p:{article_id}"))
