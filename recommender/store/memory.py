"""An in-memory store with the SQLite store's contract: for tests and throw-away runs (nothing
survives the process)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np

from recommender.articles import Article
from recommender.events import Event, EventAggregate


class MemoryStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._articles: dict[str, tuple[int, Article]] = {}
        self._seq = 0
        self._embeddings: dict[str, np.ndarray] = {}
        # a compacted event leaves None behind: positions stay the sequence numbers
        self._events: list[Event | None] = []
        self._aggregates: dict[tuple[str, int, str], EventAggregate] = {}
        self._compacted = (0, 0.0)
        self._uncounted: set[int] = set()  # positions in _events; seq = position + 1

    def close(self) -> None:
        """Nothing to release."""

    def health_problem(self) -> str | None:
        return None

    def upsert_articles(self, articles: Sequence[Article]) -> int:
        with self._lock:
            self._seq += 1
            for article in articles:
                self._articles[article.id] = (self._seq, article)
            return self._seq

    def get_article(self, article_id: str) -> Article | None:
        found = self._articles.get(article_id)
        return None if found is None else found[1]

    def iter_articles(self, chunk: int = 2_000, since_seq: int = 0) -> Iterator[Article]:
        with self._lock:
            rows = sorted(self._articles.items())
        for _, (seq, article) in rows:
            if seq > since_seq:
                yield article

    def count_published(self) -> int:
        return sum(article.is_published for _, article in self._articles.values())

    def max_seq(self) -> int:
        return max((seq for seq, _ in self._articles.values()), default=0)

    def get_embeddings(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        return {key: self._embeddings[key] for key in keys if key in self._embeddings}

    def put_embeddings(self, items: Iterable[tuple[str, np.ndarray]]) -> None:
        for key, vector in items:
            self._embeddings[key] = np.asarray(vector, np.float32).copy()

    def add_events(self, events: Sequence[Event], counted: bool = True) -> list[int]:
        with self._lock:
            seen = self.seen_event_ids([e.event_id for e in events if e.event_id])
            events = [e for e in events if e.event_id is None or e.event_id not in seen]
            first = len(self._events)
            self._events.extend(events)
            if not counted:
                self._uncounted.update(range(first, len(self._events)))
            return list(range(first + 1, len(self._events) + 1))

    def mark_uncounted(self, seqs: Sequence[int]) -> None:
        with self._lock:
            self._uncounted.update(seq - 1 for seq in seqs)

    def take_uncounted(self, count: Callable[[list[Event]], object], limit: int = 1_000) -> int:
        with self._lock:
            taken = sorted(self._uncounted)[:limit]
            if taken:
                count([e for e in (self._events[i] for i in taken) if e is not None])
                self._uncounted.difference_update(taken)
            return len(taken)

    def iter_events(
        self, since_ts: float = 0.0, chunk: int = 20_000, after_seq: int = 0
    ) -> Iterator[Event]:
        with self._lock:
            events = list(self._events[after_seq:])
        return (event for event in events if event is not None and event.ts >= since_ts)

    def seen_event_ids(self, event_ids: Sequence[str]) -> set[str]:
        wanted = set(event_ids)
        return {e.event_id for e in self._events if e and e.event_id in wanted and e.event_id}

    def last_event_seq(self) -> int:
        return len(self._events)

    def count_events(self) -> int:
        return sum(event is not None for event in self._events)

    def compact_events(
        self,
        before_ts: float,
        aggregate: Callable[[list[Event]], Sequence[EventAggregate]],
        limit: int = 10_000,
    ) -> int:
        with self._lock:
            old = sorted(
                (e.ts, i)
                for i, e in enumerate(self._events)
                if e is not None and e.ts < before_ts and i not in self._uncounted
            )[:limit]
            events = [e for e in (self._events[i] for _, i in old) if e is not None]
            for found in aggregate(events):
                key = (found.article_id, found.hour, found.type)
                if (before := self._aggregates.get(key)) is not None:
                    found = EventAggregate(
                        *key, before.events + found.events, before.counted + found.counted
                    )
                self._aggregates[key] = found
            for _, i in old:
                self._events[i] = None
            if old:
                self._compacted = (
                    max(self._compacted[0], max(i for _, i in old) + 1),
                    max(self._compacted[1], old[-1][0]),
                )
            return len(old)

    def iter_aggregates(self, chunk: int = 20_000) -> Iterator[EventAggregate]:
        with self._lock:
            found = sorted(self._aggregates.values(), key=lambda a: (a.hour, a.article_id, a.type))
        return iter(found)

    def compacted_through(self) -> tuple[int, float]:
        return self._compacted
