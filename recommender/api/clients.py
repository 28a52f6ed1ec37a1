"""Who is calling: the client address (the peer, or the forwarding header's address when the peer
is a trusted proxy), its keyed hash, whether the request carries the write token, and a
per-client token bucket on events (429 with Retry-After)."""

from __future__ import annotations

import ipaddress
import logging
import math
import secrets
import threading
import time
from pathlib import Path

from fastapi import Request

from recommender.api.errors import ApiError
from recommender.config import Settings
from recommender.readers import client_key

log = logging.getLogger(__name__)


def has_write_token(request: Request) -> bool:
    """Server-side callers (imports, replays) send the token: trusted, never limited."""
    token = request.app.state.settings.api_token
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if token is None or scheme.lower() != "bearer":
        return False
    return secrets.compare_digest(given.strip().encode(), token.get_secret_value().encode())


def _trusted(address: str, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def local_secret(folder: Path) -> bytes:
    path = folder / "client-key.secret"
    try:
        return bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError):
        pass
    fresh = secrets.token_bytes(32)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(fresh.hex())
        path.chmod(0o600)
    except OSError:
        log.warning("client_key.not_saved", extra={"path": str(path)})
    return fresh


def client_address(request: Request, settings: Settings) -> str:
    """The peer; behind a trusted proxy, the nearest untrusted address in X-Forwarded-For.
    Forwarding headers from anyone else are ignored, so a client cannot pose as another."""
    peer = request.client.host if request.client else "unknown"
    networks = settings.trusted_proxy_networks
    if not networks or not _trusted(peer, networks):
        return peer
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            return hop
    return hops[0] if hops else peer


class ClientKeys:
    """Keyed hashes of client addresses, under the configured secret or, without one, a random
    one kept in the data folder: a client keeps its key across restarts, so a batch it retries
    after a crash is still recognised by its event ids."""

    def __init__(self, settings: Settings) -> None:
        secret = settings.client_key_secret
        self._secret = (
            secret.get_secret_value().encode() if secret else local_secret(settings.data_dir)
        )

    def of(self, address: str) -> str:
        return client_key(address, self._secret)


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
        """0 when the client may send `cost` events now, else the seconds until it may."""
        now = time.monotonic() if now is None else now
        cost = min(cost, self.burst)
        with self._lock:
            tokens, at = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
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

    def __len__(self) -> int:
        return len(self._buckets)


def check_rate(request: Request, key: str, cost: int) -> None:
    limiter: RateLimiter = request.app.state.rate_limiter
    wait = limiter.take(key, cost)
    if wait > 0:
        raise ApiError(
            429,
            "TooManyRequests",
            f"too many events from this client; retry in {math.ceil(wait)} s",
            retry_after=math.ceil(wait),
        )
