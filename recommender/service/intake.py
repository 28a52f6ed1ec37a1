"""Events in: only about live articles, stored before they count, and counted through the reader
gate so that one client cannot lift a story by inventing readers. Popularity is snapshotted now
and then, so a restart replays only the events written since."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from recommender.catalog import Catalog
from recommender.config import Settings
from recommender.coreads import CoReads
from recommender.errors import SharedStateUnavailable
from recommender.events import Event
from recommender.popularity import Popularity, PopularityCounters
from recommender.readers import ReaderGate
from recommender.recent import give_back_memory
from recommender.redis_state import RedisPopularity
from recommender.service.snapshot import load_snapshot, save_snapshot
from recommender.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EventsResult:
    accepted: int  # stored: about a live article
    rejected: int  # about an unknown, unpublished or embargoed article: neither stored nor counted
    counted: int  # added to popularity (not a repeat, not over a client's reader cap)


class EventIntake:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        catalog: Catalog,
        popularity: PopularityCounters,
        count_lock: AbstractContextManager[Any],
        on_stored: Callable[[Sequence[Event]], None] | None = None,
        coreads: CoReads | None = None,
    ) -> None:
        """count_lock: the service lock for in-process counters; none needed for Redis.
        on_stored: what else learns from each stored batch (the co-read table).
        coreads: the in-process co-read table, snapshotted and replayed with popularity."""
        # `is None`, not `or`: an empty table has len 0 and would be replaced by a copy. Made
        # only when needed (replay, snapshots): its session arrays take their memory at once,
        # and with Redis the table lives there
        self._coreads = coreads
        self._coread_config = settings.coread_config()
        self._on_stored = on_stored
        self._store = store
        self._catalog = catalog
        self._popularity = popularity
        self._lock = count_lock
        # store-then-count is one step under this lock, so a snapshot never falls between them
        self._intake_lock = threading.Lock()
        self.gate = ReaderGate(
            settings.session_dedup_minutes * 60,
            settings.max_readers_per_client,
            settings.dedup_max_entries,
        )
        # counters in Redis cap readers there, for every replica at once (count_events.lua)
        self._gate_in_counters = isinstance(popularity, RedisPopularity) and bool(
            popularity.readers_per_client
        )
        self._snapshot_path = settings.data_dir / "popularity.snapshot"
        self._snapshot_every = settings.popularity_snapshot_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.snapshot_seq = 0  # the events start-up took from a snapshot

    @property
    def coreads(self) -> CoReads:
        """The in-process co-read table (snapshots, replay), made on first use."""
        if self._coreads is None:
            self._coreads = CoReads(self._coread_config)
        return self._coreads

    def record(self, events: Sequence[Event]) -> EventsResult:
        live = [e for e in events if self._catalog.is_live(e.article_id)]
        with self._intake_lock:
            fresh = self._not_seen(live)
            seqs = self._store.add_events(fresh) if fresh else []
            if self._on_stored is not None and fresh:
                self._on_stored(fresh)
            try:
                with self._lock:
                    counted = self._popularity.record_many(e for e in fresh if self._admit(e))
            except SharedStateUnavailable as exc:
                # stored, so acknowledged; the upkeep counts them once Redis is back
                self._store.mark_uncounted(seqs)
                log.warning(
                    "events.count_deferred", extra={"events": len(seqs), "reason": str(exc)}
                )
                counted = 0
        return EventsResult(len(live), len(events) - len(live), counted)

    def _admit(self, event: Event) -> bool:
        return self._gate_in_counters or self.gate.admit(event)

    def _not_seen(self, events: list[Event]) -> list[Event]:
        """Without the events a retry sends again (their event ids stored already, or twice in
        this batch): acknowledged as before, never counted twice."""
        ids = [e.event_id for e in events if e.event_id]
        if not ids:
            return events
        seen = self._store.seen_event_ids(ids)
        fresh = []
        for event in events:
            if event.event_id is not None:
                if event.event_id in seen:
                    continue
                seen.add(event.event_id)
            fresh.append(event)
        return fresh

    def replay(self) -> int:
        """Count the stored events at start-up: from the snapshot on, when there is one, else the
        compacted hours and then the raw window. The gate admits what it admitted live; ids no
        longer in the store allocate nothing."""
        after = 0
        popularity = self._popularity
        if isinstance(popularity, Popularity) and self._snapshot_every > 0:
            after = load_snapshot(self._snapshot_path, popularity, self.gate, self.coreads)
            if (
                after > self._store.last_event_seq()
                or 0 < after < self._store.compacted_through()[0]
            ):
                # a snapshot of another database (restored from a backup, replaced), or one
                # older than events compacted since: start over from the aggregates
                log.warning("snapshot.not_usable", extra={"seq": after})
                popularity.__init__(popularity.config)  # type: ignore[misc]
                self.coreads.__init__(self.coreads.config)  # type: ignore[misc]
                self.gate.restore([])
                after = 0
        self.snapshot_seq = after
        counted = 0
        with self._lock:
            if after == 0 and isinstance(popularity, Popularity):
                counted = popularity.record_aggregates(
                    a for a in self._store.iter_aggregates() if a.article_id in self._catalog
                )
            return counted + popularity.record_many(self._to_count(after))

    def _to_count(self, after: int) -> Iterator[Event]:
        """The stored events after `after`; the co-read table learns each (as it did live),
        popularity those the gate admits about articles still in the catalogue."""
        for event in self._store.iter_events(after_seq=after):
            self.coreads.record(event)
            if event.article_id in self._catalog and self._admit(event):
                yield event

    def forget_dead(self) -> int:
        """Co-reads of articles no longer live (unpublished) go, with their place in other
        articles' partners and sessions' reads: no event about them is counted any more, so
        this is what keeps the table the size of the live site. Returns how many went."""
        coreads = self._coreads
        if coreads is None:
            return 0
        dead = [a for a in coreads.counts if not self._catalog.is_live(a)]
        if dead:
            with self._lock:  # readers rank from the table under the service lock
                coreads.forget(dead)
        return len(dead)

    def snapshot(self) -> None:
        if not isinstance(self._popularity, Popularity) or self._snapshot_every <= 0:
            return  # a shared backend (Redis) keeps its own state
        started = time.perf_counter()
        with self._intake_lock:
            self.forget_dead()
            seq = self._store.last_event_seq()
            save_snapshot(self._snapshot_path, seq, self._popularity, self.gate, self.coreads)
        give_back_memory()  # the snapshot's arrays: tens of MB, freed into the heap
        log.info("snapshot.saved", extra={"seq": seq, "seconds": time.perf_counter() - started})

    def start_snapshots(self) -> None:
        if self._snapshot_every > 0 and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="snapshots", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._snapshot_every):
            try:
                self.snapshot()
            except OSError as exc:
                log.error("snapshot.failed", extra={"error": str(exc)})

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        try:
            self.snapshot()
        except OSError as exc:
            log.error("snapshot.failed", extra={"error": str(exc)})
