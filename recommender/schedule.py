"""Items that wait for their time (embargoed articles): a heap of (time, key), the latest item
per key; a key scheduled again or discarded leaves a stale heap entry that pop_due skips."""

from __future__ import annotations

import heapq
from typing import Generic, TypeVar

T = TypeVar("T")


class Schedule(Generic[T]):
    def __init__(self) -> None:
        self._items: dict[str, tuple[float, T]] = {}
        self._heap: list[tuple[float, str]] = []

    def add(self, key: str, at: float, item: T) -> None:
        self._items[key] = (at, item)
        heapq.heappush(self._heap, (at, key))

    def discard(self, key: str) -> None:
        self._items.pop(key, None)

    def next_time(self) -> float | None:
        """The earliest time in the heap (perhaps of a stale entry): a cheap peek."""
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float) -> list[T]:
        due: list[T] = []
        while self._heap and self._heap[0][0] <= now:
            at, key = heapq.heappop(self._heap)
            entry = self._items.get(key)
            if entry is not None and entry[0] == at:
                del self._items[key]
                due.append(entry[1])
        return due
