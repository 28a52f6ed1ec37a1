"""Per-client event rate limits: a token bucket per client key. `EventLimiter` is what the API
needs of a limiter; `RateLimiter` keeps the buckets in this process (one replica), and
recommender.redis_limits.RedisRateLimiter shares them through Redis (several replicas)."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class EventLimiter(Protocol):
    def take(self, key: str, cost: float, now: float | None = None) -> float:
        """0 when the client may send `cost` events now, else the seconds until it may."""
        ...

    def health_problem(self) -> str | None:
        """Why the limit is weaker than configured (a /health/ready reason), or None."""
        ...


class RateLimiter:
    """A token bucket per client key: `per_minute` events refill it, `burst` is its size.
    Idle buckets are dropped, so memory follows the clients of the last minutes."""

    def __init__(self, per_minute: float, burst: float) -> None:
        self.rate = per_minute / 60.0
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}  # key → (tokens, at)
        self._lock = threading.Lock()
        self._prune_at = 10_000

    def take(self, key: str, cost: float, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        cost = min(cost, self.burst)
        with self._lock:
            tokens, at = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + max(0.0, now - at) * self.rate)
            if tokens < cost:
                self._buckets[key] = (tokens, now)
                return (cost - tokens) / self.rate
            self._buckets[key] = (tokens - cost, now)
            if len(self._buckets) > self._prune_at:
                self._prune(now)
        return 0.0

    def _prune(self, now: float) -> None:
        # a bucket idle long enough to be full again holds nothing worth keeping
        full_after = self.burst / self.rate
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < full_after}
        self._prune_at = max(10_000, 2 * len(self._buckets))

    def health_problem(self) -> str | None:
        return None

    def __len__(self) -> int:
        return len(self._buckets)
