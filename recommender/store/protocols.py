"""What the service needs of storage, as protocols: any backend (SQLite, PostgreSQL, in memory)
that passes the contract tests in tests/test_store.py plugs in unchanged."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Protocol

import numpy as np

from recommender.articles import Article
from recommender.events import Event, EventAggregate, ServedList


class ArticleStore(Protocol):
    """Articles (published or not) with a change sequence number per written batch."""

    def upsert_articles(self, articles: Sequence[Article]) -> int: ...

    def get_article(self, article_id: str) -> Article | None: ...

    def iter_articles(self, chunk: int = 2_000, since_seq: int = 0) -> Iterator[Article]: ...

    def count_published(self) -> int: ...

    def max_seq(self) -> int: ...


class EventLog(Protocol):
    """Acknowledged events, durable, read back in the order they were written. An event is
    `counted` once the shared popularity has it; the ones written while it was unreachable are
    handed over later by take_uncounted."""

    def add_events(self, events: Sequence[Event], counted: bool = True) -> list[int]:
        """Append durably; an event whose event_id is stored already is skipped (a retry)."""
        ...

    def seen_event_ids(self, event_ids: Sequence[str]) -> set[str]: ...

    def mark_uncounted(self, seqs: Sequence[int]) -> None: ...

    def take_uncounted(self, count: Callable[[list[Event]], object], limit: int = 1_000) -> int: ...

    def iter_events(
        self, since_ts: float = 0.0, chunk: int = 20_000, after_seq: int = 0
    ) -> Iterator[Event]: ...

    def last_event_seq(self) -> int:
        """The sequence number of the newest event (0: none), for iter_events(after_seq=)."""
        ...

    def count_events(self) -> int: ...

    def compact_events(
        self,
        before_ts: float,
        aggregate: Callable[[list[Event]], Sequence[EventAggregate]],
        limit: int = 10_000,
    ) -> int:
        """Move up to `limit` of the oldest (counted) events from before before_ts into hourly
        aggregates, in one transaction; returns how many moved."""
        ...

    def iter_aggregates(self, chunk: int = 20_000) -> Iterator[EventAggregate]:
        """The compacted events, oldest hour first."""
        ...

    def compacted_through(self) -> tuple[int, float]:
        """The sequence number and time of the newest event compacted ((0, 0.0): none)."""
        ...


class ServedLog(Protocol):
    """Served lists, one row per recommendation id (a list answered again from a cache under
    the same id is one row), kept for a retention window."""

    def add_served(self, lists: Sequence[ServedList]) -> None: ...

    def iter_served(self, since_ts: float = 0.0) -> Iterator[ServedList]: ...

    def prune_served(self, before_ts: float) -> int: ...

    def count_served(self) -> int: ...

    def close(self) -> None: ...


class VectorCache(Protocol):
    """Embeddings by the hash of (model, text); see embedding.EmbeddingCache."""

    def get_embeddings(self, keys: Sequence[str]) -> dict[str, np.ndarray]: ...

    def put_embeddings(self, items: Iterable[tuple[str, np.ndarray]]) -> None: ...


class Store(ArticleStore, EventLog, VectorCache, Protocol):
    """One backend holding all three."""

    def health_problem(self) -> str | None:
        """Why the backend cannot serve writes now, or None."""
        ...

    def close(self) -> None: ...
