"""Per-client event rate limits shared by every replica: one token bucket per client key in
Redis, taken from by one Lua script call (one round trip per batch of events). With N replicas a
client gets the configured limit, not N times it.

Redis down: the replica falls back to a bucket in its own memory (the limit then holds per
process again) and says so through health_problem, so /health/ready reports `degraded`."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import redis

from recommender.limits import RateLimiter

log = logging.getLogger(__name__)

TAKE = Path(__file__).with_name("rate_limit.lua").read_text()
RETRY_SECONDS = 1.0  # while Redis is down, how often a request tries it again


class RedisRateLimiter:
    """EventLimiter over Redis (tests/test_rate_limit_contract.py runs both limiters)."""

    def __init__(self, client: redis.Redis, prefix: str, per_minute: float, burst: float) -> None:
        self.client = client
        self.key = f"{{{prefix}}}:rate"
        self.rate = per_minute / 60.0
        self.burst = burst
        self.local = RateLimiter(per_minute, burst)
        self._take = client.register_script(TAKE)
        self._retry_at = 0.0
        self._problem: str | None = None

    def take(self, key: str, cost: float, now: float | None = None) -> float:
        """now: a clock of the caller's (tests); by default Redis's, shared by all replicas."""
        if time.monotonic() >= self._retry_at:
            try:
                wait = self._take(
                    keys=[f"{self.key}:{key}"],
                    args=[self.rate, self.burst, cost, "" if now is None else now],
                )
            except redis.RedisError as exc:
                self._down(exc)
            else:
                self._problem = None
                return float(wait)
        return self.local.take(key, cost, now)

    def _down(self, exc: redis.RedisError) -> None:
        if self._problem is None:
            log.warning("rate_limit.local_fallback", extra={"reason": str(exc)})
        self._problem = f"rate limits per process: redis unreachable: {type(exc).__name__}"
        self._retry_at = time.monotonic() + RETRY_SECONDS

    def health_problem(self) -> str | None:
        """Set from the last failed take; a ping clears it once Redis answers again, so health
        does not wait for the next event to say Redis is back."""
        if self._problem is not None:
            try:
                self.client.ping()
            except redis.RedisError:
                return self._problem
            self._problem, self._retry_at = None, 0.0
        return None


def shared_secret(client: redis.Redis, prefix: str, local: bytes) -> bytes:
    """The client-key secret every replica uses when none is configured: the first replica's
    own, kept in Redis (SET NX). Each replica hashing addresses under a secret of its own would
    give one client a rate limit and a reader cap per replica. Redis down: the local one (and a
    warning); a configured RECOMMENDER_CLIENT_KEY_SECRET needs none of this."""
    key = f"{{{prefix}}}:client-key-secret"
    try:
        client.set(key, local.hex(), nx=True)
        stored = client.get(key)
        return bytes.fromhex(stored.decode() if isinstance(stored, bytes) else str(stored))
    except (redis.RedisError, ValueError, AttributeError) as exc:
        log.warning("client_key.not_shared", extra={"reason": str(exc)})
        return local
