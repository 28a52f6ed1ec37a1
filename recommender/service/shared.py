"""Replicas that share state: which popularity backend and change feed the settings choose, and
the upkeep each replica runs in the background when Redis is configured. The upkeep follows
the change feed (articles written on other replicas become recommendable here within a second),
polls the store as a safety net, counts the events written while Redis was down, and fills an
empty Redis (restarted: it keeps nothing on disk) from the event log once."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Protocol

from recommender.config import PopularityConfig, Settings
from recommender.coreads import CoReads
from recommender.errors import SharedStateUnavailable, StoreUnavailable
from recommender.limits import EventLimiter, RateLimiter
from recommender.popularity import Popularity, PopularityCounters
from recommender.redis_coreads import RedisCoReads
from recommender.redis_feed import RedisFeed
from recommender.redis_limits import RedisRateLimiter, shared_secret
from recommender.redis_state import RedisPopularity
from recommender.redis_support import connect
from recommender.service.lifecycle import IndexLifecycle
from recommender.store import Store

log = logging.getLogger(__name__)

FEED_WAIT_SECONDS = 1.0


class ChangeFeed(Protocol):
    def publish(self, seq: int) -> None: ...

    def latest(self) -> str: ...

    def wait(self, after: str, timeout: float) -> tuple[str, int]: ...


def open_coreads(settings: Settings) -> CoReads | RedisCoReads:
    """The co-read table in Redis when RECOMMENDER_REDIS_URL is set, else in process."""
    if settings.redis_url is None:
        return CoReads(settings.coread_config())
    return RedisCoReads(
        connect(settings.redis_url),
        settings.coread_config(),
        settings.redis_prefix,
        cache_seconds=settings.redis_refresh_seconds,
    )


def open_popularity(
    settings: Settings, config: PopularityConfig, coreads: CoReads | RedisCoReads | None = None
) -> PopularityCounters:
    """Redis counters when RECOMMENDER_REDIS_URL is set, else in process (one replica). Co-reads
    in Redis are counted in the counters' transaction."""
    if settings.redis_url is None:
        return Popularity(config)
    return RedisPopularity(
        connect(settings.redis_url),
        config,
        settings.redis_prefix,
        snapshot_size=settings.redis_snapshot_size,
        refresh_seconds=settings.redis_refresh_seconds,
        readers_per_client=settings.max_readers_per_client,
        riders=[coreads] if isinstance(coreads, RedisCoReads) else [],
    )


def open_rate_limiter(settings: Settings) -> EventLimiter:
    """Per-client event limits shared through Redis when it is configured, else per process."""
    per_minute, burst = settings.events_per_minute_per_client, settings.events_burst_per_client
    if settings.redis_url is None:
        return RateLimiter(per_minute, burst)
    return RedisRateLimiter(connect(settings.redis_url), settings.redis_prefix, per_minute, burst)


def client_secret_sharer(settings: Settings) -> Callable[[bytes], bytes] | None:
    """With Redis and no configured client-key secret, replicas agree on one through Redis."""
    if settings.redis_url is None or settings.client_key_secret is not None:
        return None
    client, prefix = connect(settings.redis_url), settings.redis_prefix
    return lambda local: shared_secret(client, prefix, local)


def open_feed(settings: Settings) -> ChangeFeed | None:
    if settings.redis_url is None:
        return None
    # its own client: it blocks on the stream longer than the counters' timeout allows
    client = connect(settings.redis_url, read_timeout=FEED_WAIT_SECONDS + 2)
    return RedisFeed(client, settings.redis_prefix, origin=uuid.uuid4().hex[:12])


class SharedUpkeep:
    """The background thread of a replica whose state is shared."""

    def __init__(
        self,
        store: Store,
        lifecycle: IndexLifecycle,
        popularity: RedisPopularity | None,
        feed: ChangeFeed | None,
        poll_seconds: float,
    ) -> None:
        self.store = store
        self.lifecycle = lifecycle
        self.popularity = popularity
        self.feed = feed
        self.poll_seconds = poll_seconds
        self._position: str | None = None
        self._coreads_seeded = False
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def count_backlog(self) -> int:
        """Seed an empty Redis from the event log, then count the events written while Redis
        was unreachable. Returns how many events were counted."""
        popularity = self.popularity
        if popularity is None:
            return 0
        counted = 0
        try:
            if popularity.needs_seed():
                # the compacted hours too: the raw log holds only the retention window
                seeded = popularity.seed(self.store.iter_events(), self.store.iter_aggregates())
                if seeded is None:
                    return 0  # another replica is seeding; the backlog waits for it
                # the replay counted the backlog too
                while self.store.take_uncounted(lambda events: None):
                    pass
                log.info("popularity.seeded", extra={"events": seeded})
                return seeded
            while taken := self.store.take_uncounted(popularity.record_many):
                counted += taken
            self._seed_coreads(popularity)
        except (SharedStateUnavailable, StoreUnavailable) as exc:
            log.debug("popularity.backlog_waits", extra={"reason": str(exc)})
        if counted:
            log.info("popularity.backlog_counted", extra={"events": counted})
        return counted

    def _seed_coreads(self, popularity: RedisPopularity) -> None:
        """Co-reads in Redis that missed the counters' seeding (an upgrade) learn the log once."""
        if self._coreads_seeded:
            return
        for rider in popularity.riders:
            if isinstance(rider, RedisCoReads) and rider.needs_seed():
                learned = rider.seed(self.store.iter_events())
                if learned is None:
                    return  # another replica is at it: look again next step
                log.info("coreads.seeded", extra={"reads": learned})
        self._coreads_seeded = True

    def step(self, last_sync: float) -> float:
        """Wait for the feed (or a second), catch up with the store when it spoke or the poll
        interval passed, count any backlog. Returns the time of the last catch-up."""
        woke = False
        try:
            if self.feed is not None:
                if self._position is None:
                    self._position = self.feed.latest()
                    # entries before it may have been missed: catch up now, not after a wait
                    # (a worker that starts after a write would serve without it for a second)
                    last_sync = 0.0
                else:
                    self._position, entries = self.feed.wait(self._position, FEED_WAIT_SECONDS)
                    woke = entries > 0
            else:
                self._stop.wait(FEED_WAIT_SECONDS)
        except SharedStateUnavailable:
            self._position = None
            self._stop.wait(FEED_WAIT_SECONDS)
        if woke or time.monotonic() - last_sync >= self.poll_seconds:
            try:
                changed = self.lifecycle.follow_store()
                last_sync = time.monotonic()
                if changed:
                    log.info("feed.applied", extra={"changed": changed})
            except StoreUnavailable as exc:
                log.warning("feed.store_unavailable", extra={"reason": str(exc)})
        self.count_backlog()
        return last_sync

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()

        def run() -> None:
            last_sync = time.monotonic()
            while not self._stop.is_set():
                try:
                    last_sync = self.step(last_sync)
                except Exception:
                    # the upkeep must survive anything: the next step tries again
                    log.exception("feed.step_failed")
                    self._stop.wait(FEED_WAIT_SECONDS)

        self._thread = threading.Thread(target=run, name="shared-upkeep", daemon=True)
        self._thread.start()
        log.info("feed.following", extra={"poll_s": self.poll_seconds})

    def stop(self) -> None:
        if self.popularity is not None:
            self.popularity.stop()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=FEED_WAIT_SECONDS + 3)
            self._thread = None
