"""Who is calling: the client address (the peer, or the forwarding header's address when the peer
is a trusted proxy), its keyed hash, whether the request carries the write token, and a
per-client token bucket on events (429 with Retry-After; recommender.limits)."""

from __future__ import annotations

import ipaddress
import logging
import math
import secrets
from collections.abc import Callable
from pathlib import Path

from fastapi import Request

from recommender.api.errors import ApiError
from recommender.config import Settings
from recommender.limits import EventLimiter, RateLimiter
from recommender.readers import client_key

log = logging.getLogger(__name__)

__all__ = ["ClientKeys", "RateLimiter", "check_rate", "client_address", "has_write_token"]


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

    def __init__(self, settings: Settings, share: Callable[[bytes], bytes] | None = None) -> None:
        """share: makes the random secret the same on every replica (kept in Redis)."""
        secret = settings.client_key_secret
        if secret is not None:
            self._secret = secret.get_secret_value().encode()
        else:
            local = local_secret(settings.data_dir)
            self._secret = share(local) if share else local

    def of(self, address: str) -> str:
        return client_key(address, self._secret)


def check_rate(request: Request, key: str, cost: int) -> None:
    limiter: EventLimiter = request.app.state.rate_limiter
    wait = limiter.take(key, cost)
    if wait > 0:
        raise ApiError(
            429,
            "TooManyRequests",
            f"too many events from this client; retry in {math.ceil(wait)} s",
            retry_after=math.ceil(wait),
        )
