"""What the two SQL backends share: the read statements (written with `?` placeholders; the
PostgreSQL store hands them to its driver as `%s`) and the paging over them. A backend only
says how to run one query, in `_rows`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from recommender.articles import Article
from recommender.events import Event, EventAggregate

AGGREGATE_COLUMNS = "article_id, hour, type, events, counted"
EVENT_COLUMNS = "ts, type, article_id, session_id, recommendation_id, position"


def event_row(event: Event) -> tuple[Any, ...]:
    return (
        event.ts,
        event.type,
        event.article_id,
        event.session_id,
        event.recommendation_id,
        event.position,
    )


def aggregate_rows(aggregates: Sequence[EventAggregate]) -> list[tuple[Any, ...]]:
    return [(a.article_id, a.hour, a.type, a.events, a.counted) for a in aggregates]


# adds to an hour compacted by an earlier batch rather than replacing it
UPSERT_AGGREGATE = (
    f"INSERT INTO event_aggregates ({AGGREGATE_COLUMNS}) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (article_id, hour, type) DO UPDATE SET"
    " events = event_aggregates.events + excluded.events,"
    " counted = event_aggregates.counted + excluded.counted"
)
# in time order (the events_ts index), as they were counted live; `counted` is TRUE/1 in both
OLDEST_EVENTS = (
    f"SELECT seq, {EVENT_COLUMNS} FROM events WHERE ts < ? AND counted = TRUE"
    " ORDER BY ts, seq LIMIT ?"
)
# the newest event compacted: replays of a snapshot older than it must start over
ADVANCE_COMPACTION = (
    "INSERT INTO event_compaction (id, through_seq, through_ts) VALUES (1, ?, ?)"
    " ON CONFLICT (id) DO UPDATE SET"
    " through_seq = CASE WHEN excluded.through_seq > event_compaction.through_seq"
    " THEN excluded.through_seq ELSE event_compaction.through_seq END,"
    " through_ts = CASE WHEN excluded.through_ts > event_compaction.through_ts"
    " THEN excluded.through_ts ELSE event_compaction.through_ts END"
)


class SqlReads:
    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = self._rows(sql, params)
        return rows[0][0] if rows else None

    def get_article(self, article_id: str) -> Article | None:
        data = self._value("SELECT data FROM articles WHERE id = ?", (article_id,))
        return None if data is None else Article.model_validate_json(data)

    def iter_articles(self, chunk: int = 2_000, since_seq: int = 0) -> Iterator[Article]:
        """All articles (published or not) changed after since_seq, in id order (byte order
        in both backends), streamed: no transaction stays open between chunks."""
        last = ""
        while rows := self._rows(
            "SELECT id, data FROM articles WHERE id > ? AND seq > ? ORDER BY id LIMIT ?",
            (last, since_seq, chunk),
        ):
            for _, data in rows:
                yield Article.model_validate_json(data)
            last = rows[-1][0]

    def count_published(self) -> int:
        return int(self._value("SELECT COUNT(*) FROM articles WHERE status = 'published'"))

    def max_seq(self) -> int:
        return int(self._value("SELECT COALESCE(MAX(seq), 0) FROM articles"))

    def iter_events(
        self, since_ts: float = 0.0, chunk: int = 20_000, after_seq: int = 0
    ) -> Iterator[Event]:
        """Events in the order they were written (after sequence number after_seq), streamed."""
        last_seq = after_seq
        while rows := self._rows(
            f"SELECT seq, {EVENT_COLUMNS} FROM events WHERE seq > ? AND ts >= ?"
            " ORDER BY seq LIMIT ?",
            (last_seq, since_ts, chunk),
        ):
            for row in rows:
                yield Event(*row[1:])
            last_seq = rows[-1][0]

    def last_event_seq(self) -> int:
        return int(self._value("SELECT COALESCE(MAX(seq), 0) FROM events"))

    def count_events(self) -> int:
        return int(self._value("SELECT COUNT(*) FROM events"))

    def iter_aggregates(self, chunk: int = 20_000) -> Iterator[EventAggregate]:
        """The compacted events, oldest hour first, streamed."""
        last = (-1, "", "")
        while rows := self._rows(
            f"SELECT {AGGREGATE_COLUMNS} FROM event_aggregates"
            " WHERE (hour, article_id, type) > (?, ?, ?)"
            " ORDER BY hour, article_id, type LIMIT ?",
            (*last, chunk),
        ):
            for row in rows:
                yield EventAggregate(*row)
            last = (rows[-1][1], rows[-1][0], rows[-1][2])

    def compacted_through(self) -> tuple[int, float]:
        """The sequence number and time of the newest event compacted so far ((0, 0.0): none)."""
        rows = self._rows("SELECT through_seq, through_ts FROM event_compaction WHERE id = 1")
        return (int(rows[0][0]), float(rows[0][1])) if rows else (0, 0.0)

    def schema_version(self) -> int:
        return int(self._value("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"))
