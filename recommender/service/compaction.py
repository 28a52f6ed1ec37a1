"""Retention: raw events older than the retention window are compacted into per-article hourly
aggregates, so the event log (and a restart without a snapshot) stays the size of the window.

Each batch moves in one store transaction (aggregates added, raw events deleted), so a crash
leaves a batch either done or not started: nothing is counted twice or lost. The aggregates keep
what popularity counted, with the same session de-duplication and reader gate as the live
intake, so a replay of aggregates plus the raw window gives the counts a full replay would.
Event ids stay in the raw window, which is where a retry can come from.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from recommender.config import Settings
from recommender.events import HOUR, Event, EventAggregate
from recommender.popularity import Popularity
from recommender.readers import ReaderGate
from recommender.store import Store

log = logging.getLogger(__name__)

DAY = 86_400.0


class HourlyAggregator:
    """Turns batches of events, oldest first, into hourly aggregates. The de-duplication state
    carries over from batch to batch of one run (a pair split by a run boundary may count once
    more: at most one de-duplication window per run)."""

    def __init__(self, settings: Settings) -> None:
        self._popularity = Popularity(settings.popularity_config())
        self._gate = ReaderGate(
            settings.session_dedup_minutes * 60,
            settings.max_readers_per_client,
            settings.dedup_max_entries,
        )

    def __call__(self, events: list[Event]) -> Sequence[EventAggregate]:
        totals: dict[tuple[str, int, str], list[int]] = {}
        for event in events:
            row = totals.setdefault((event.article_id, int(event.ts // HOUR), event.type), [0, 0])
            row[0] += 1
            # the order of the live intake: the reader gate first, then the session repeat
            if self._gate.admit(event) and self._popularity.admits(event):
                row[1] += 1
        return [EventAggregate(*key, events, counted) for key, (events, counted) in totals.items()]


@dataclass(frozen=True)
class CompactionResult:
    moved: int  # raw events compacted
    batches: int
    before_ts: float  # events older than this were compacted
    seconds: float


def retention_cutoff(settings: Settings, now: float) -> float:
    """Events before this time are past the retention window. An hour the cutoff splits is
    finished by the next run: its aggregate rows add up."""
    return now - settings.event_retention_days * DAY


def compact_events(
    store: Store,
    settings: Settings,
    now: float | None = None,
    progress: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
) -> CompactionResult:
    """Compact every event older than the retention window, batch by batch; progress gets the
    running total after each batch, and stop (when set) ends the run between batches."""
    started = time.perf_counter()
    before = retention_cutoff(settings, time.time() if now is None else now)
    aggregate = HourlyAggregator(settings)
    moved = batches = 0
    while not (stop is not None and stop.is_set()):
        taken = store.compact_events(before, aggregate, settings.compaction_batch_events)
        if not taken:
            break
        moved += taken
        batches += 1
        if progress is not None:
            progress(moved)
    seconds = time.perf_counter() - started
    if moved:
        log.info("events.compacted", extra={"events": moved, "before_ts": before})
    return CompactionResult(moved, batches, before, seconds)


class PeriodicCompaction:
    """Runs compact_events every interval in a daemon thread (off the event loop and off the
    service lock: it only touches the store). A failed run is logged and tried again later."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self._settings = settings
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        interval = self._settings.compaction_interval_seconds
        if interval <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="compaction", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        # the first run soon after start-up: a server that restarts often still compacts
        delay = min(60.0, self._settings.compaction_interval_seconds)
        while not self._stop.wait(delay):
            delay = self._settings.compaction_interval_seconds
            try:
                compact_events(self._store, self._settings, stop=self._stop)
            except Exception:
                log.exception("events.compaction_failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
