"""Events in: only about live articles, stored before they count, and counted through the reader
gate so that one client cannot lift a story by inventing readers."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from recommender.catalog import Catalog
from recommender.config import Settings
from recommender.events import Event
from recommender.popularity import PopularityCounters
from recommender.readers import ReaderGate
from recommender.store import Store


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
        lock: threading.RLock,
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._popularity = popularity
        self._lock = lock
        self.gate = ReaderGate(settings.session_dedup_minutes * 60, settings.max_readers_per_client)

    def record(self, events: Sequence[Event]) -> EventsResult:
        live = [e for e in events if self._catalog.is_live(e.article_id)]
        fresh = self._not_seen(live)
        if fresh:
            self._store.add_events(fresh)
        with self._lock:
            counted = self._popularity.record_many(e for e in fresh if self.gate.admit(e))
        return EventsResult(len(live), len(events) - len(live), counted)

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
        """Count the stored events at start-up; the gate admits what it admitted live, and ids
        no longer in the store allocate nothing."""
        with self._lock:
            return self._popularity.record_many(
                e
                for e in self._store.iter_events()
                if e.article_id in self._catalog and self.gate.admit(e)
            )
