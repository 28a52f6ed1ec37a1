"""What the two SQL backends share: the read statements (written with `?` placeholders; the
PostgreSQL store hands them to its driver as `%s`) and the paging over them. A backend only
says how to run one query, in `_rows`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from recommender.articles import Article
from recommender.events import Event

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

    def schema_version(self) -> int:
        return int(self._value("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"))
