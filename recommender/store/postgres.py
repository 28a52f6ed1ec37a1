"""PostgreSQL store: articles, the embedding cache and events, shared by every replica. The only
psycopg user.

A connection pool; every method is one transaction on one pooled connection. A database that
cannot be reached becomes StoreUnavailable (HTTP 503) after `timeout` seconds, never a hang.
The schema lives in the search_path's first schema, so one database can hold several
(`postgresql://host/db?options=-csearch_path%3Dsite_a`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from recommender.articles import Article
from recommender.errors import StoreUnavailable
from recommender.events import Event, EventAggregate, ServedList
from recommender.store import migrations
from recommender.store.served import served_list, served_row
from recommender.store.sql import (
    ADVANCE_COMPACTION,
    EVENT_COLUMNS,
    OLDEST_EVENTS,
    UPSERT_AGGREGATE,
    SqlReads,
    aggregate_rows,
    event_row,
)

# advisory lock keys, per schema: the migration runner, and the article batch numbering
MIGRATE_LOCK = "SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':migrate'))"
ARTICLES_LOCK = "SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':articles'))"
# replicas compact one batch at a time: the compaction watermark only moves forward
COMPACT_LOCK = "SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':compact'))"


class PostgresStore(SqlReads):
    def __init__(self, url: str, *, pool_size: int = 8, timeout: float = 3.0) -> None:
        self.url = url
        self._pool: ConnectionPool[psycopg.Connection[tuple[Any, ...]]] = ConnectionPool(
            url,
            min_size=1,
            max_size=max(1, pool_size),
            timeout=timeout,
            # a connection broken by a database restart is replaced before use, not failed on
            check=ConnectionPool.check_connection,
            kwargs={"connect_timeout": max(1, round(timeout))},
            open=False,
            name="recommender",
        )
        try:
            self._pool.open(wait=True, timeout=timeout)
        except PoolTimeout as exc:
            self._pool.close()
            raise StoreUnavailable(f"cannot connect to the database: {exc}") from exc
        self._migrate()

    def close(self) -> None:
        self._pool.close()

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
        """One transaction: committed when the block ends, rolled back when it raises."""
        try:
            with self._pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise StoreUnavailable(f"database unavailable: {exc}") from exc

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """One read statement of store/sql.py (`?` placeholders; ours hold no literal `?`)."""
        with self._transaction() as conn:
            return conn.execute(sql.replace("?", "%s"), params).fetchall()

    def _migrate(self) -> None:
        with self._transaction() as conn:
            conn.execute(MIGRATE_LOCK)
            migrations.apply(conn.execute, migrations.POSTGRES_TRACKING, migrations.POSTGRES, "%s")

    def health_problem(self) -> str | None:
        try:
            with self._pool.connection(timeout=1.0) as conn:
                conn.execute("SELECT 1")
        except (psycopg.Error, PoolTimeout) as exc:
            return f"database unreachable: {type(exc).__name__}"
        return None

    # articles --------------------------------------------------------------------------------

    def upsert_articles(self, articles: Sequence[Article]) -> int:
        """Insert or replace; returns the change sequence number given to this batch. Batches
        are numbered under a lock held to commit, so a reader that has seen number n has seen
        every batch before it (replicas catch up with `iter_articles(since_seq=n)`)."""
        with self._transaction() as conn:
            conn.execute(ARTICLES_LOCK)
            row = conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM articles").fetchone()
            seq = int(row[0]) if row else 1
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO articles (id, data, status, url, seq) VALUES (%s,%s,%s,%s,%s)"
                    " ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data,"
                    " status = EXCLUDED.status, url = EXCLUDED.url, seq = EXCLUDED.seq",
                    [(a.id, a.model_dump_json(), a.status, a.url, seq) for a in articles],
                )
        return seq

    # embedding cache ----------------------------------------------------------------------------

    def get_embeddings(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        if not keys:
            return {}
        with self._transaction() as conn:
            rows = conn.execute(
                "SELECT key, vector FROM embeddings WHERE key = ANY(%s)", (list(keys),)
            ).fetchall()
        return {key: np.frombuffer(bytes(blob), dtype=np.float32) for key, blob in rows}

    def put_embeddings(self, items: Iterable[tuple[str, np.ndarray]]) -> None:
        rows = [
            (key, int(vec.shape[0]), np.asarray(vec, np.float32).tobytes()) for key, vec in items
        ]
        if not rows:
            return
        with self._transaction() as conn, conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO embeddings (key, dim, vector) VALUES (%s, %s, %s)"
                " ON CONFLICT (key) DO UPDATE SET dim = EXCLUDED.dim, vector = EXCLUDED.vector",
                rows,
            )

    # events -----------------------------------------------------------------------------------

    def add_events(self, events: Sequence[Event], counted: bool = True) -> list[int]:
        """Append durably in one statement; returns the stored events' sequence numbers. An
        event whose event_id is stored already (by any replica) is skipped: a retry."""
        if not events:
            return []
        columns = list(zip(*(event_row(e) for e in events), strict=True))
        event_ids = [e.event_id for e in events]
        with self._transaction() as conn:
            rows = conn.execute(
                f"INSERT INTO events ({EVENT_COLUMNS}, event_id, counted)"
                " SELECT *, %s FROM unnest(%s::float8[], %s::text[], %s::text[], %s::text[],"
                " %s::text[], %s::int4[], %s::text[])"
                " ON CONFLICT (event_id) WHERE event_id IS NOT NULL DO NOTHING RETURNING seq",
                [counted, *(list(column) for column in columns), event_ids],
            ).fetchall()
        return sorted(int(row[0]) for row in rows)

    def seen_event_ids(self, event_ids: Sequence[str]) -> set[str]:
        """Which of these event ids are stored already."""
        if not event_ids:
            return set()
        with self._transaction() as conn:
            rows = conn.execute(
                "SELECT event_id FROM events WHERE event_id = ANY(%s)", (list(event_ids),)
            ).fetchall()
        return {row[0] for row in rows}

    def mark_uncounted(self, seqs: Sequence[int]) -> None:
        with self._transaction() as conn:
            conn.execute("UPDATE events SET counted = FALSE WHERE seq = ANY(%s)", (list(seqs),))

    def take_uncounted(self, count: Callable[[list[Event]], object], limit: int = 1_000) -> int:
        """Hand the oldest uncounted events to `count`, marked counted only when it returns.
        SKIP LOCKED: replicas draining at once take different events."""
        with self._transaction() as conn:
            rows = conn.execute(
                f"SELECT seq, {EVENT_COLUMNS} FROM events WHERE NOT counted"
                " ORDER BY seq LIMIT %s FOR UPDATE SKIP LOCKED",
                (limit,),
            ).fetchall()
            if rows:
                count([Event(*row[1:]) for row in rows])
                conn.execute(
                    "UPDATE events SET counted = TRUE WHERE seq = ANY(%s)",
                    ([row[0] for row in rows],),
                )
        return len(rows)

    def compact_events(
        self,
        before_ts: float,
        aggregate: Callable[[list[Event]], Sequence[EventAggregate]],
        limit: int = 10_000,
    ) -> int:
        """As SqliteStore.compact_events: one transaction per batch, one replica at a time."""
        with self._transaction() as conn:
            conn.execute(COMPACT_LOCK)
            rows = conn.execute(OLDEST_EVENTS.replace("?", "%s"), (before_ts, limit)).fetchall()
            if rows:
                events = [Event(*row[1:]) for row in rows]
                with conn.cursor() as cur:
                    cur.executemany(
                        UPSERT_AGGREGATE.replace("?", "%s"), aggregate_rows(aggregate(events))
                    )
                conn.execute("DELETE FROM events WHERE seq = ANY(%s)", ([row[0] for row in rows],))
                conn.execute(
                    ADVANCE_COMPACTION.replace("?", "%s"),
                    (max(row[0] for row in rows), max(e.ts for e in events)),
                )
        return len(rows)


SERVED_COLUMNS = "rid, ts, kind, variant, context_id, section, items"


class PostgresServedLog:
    """The served-list log in the shared database, so click-through joins the events with the
    lists of every replica. Its own small pool: the writer thread never takes a connection an
    article or event write waits for. The table comes from PostgresStore's migrations."""

    def __init__(self, url: str, timeout: float = 3.0) -> None:
        self._pool: ConnectionPool[psycopg.Connection[tuple[Any, ...]]] = ConnectionPool(
            url, min_size=1, max_size=2, timeout=timeout, open=False, name="served-log"
        )
        try:
            self._pool.open(wait=True, timeout=timeout)
        except PoolTimeout as exc:
            self._pool.close()
            raise StoreUnavailable(f"cannot connect to the database: {exc}") from exc

    def close(self) -> None:
        self._pool.close()

    def add_served(self, lists: Sequence[ServedList]) -> None:
        if not lists:
            return
        with self._pool.connection() as conn, conn.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO served_lists ({SERVED_COLUMNS}) VALUES (%s,%s,%s,%s,%s,%s,%s)"
                " ON CONFLICT (rid) DO NOTHING",
                [served_row(s) for s in lists],
            )

    def iter_served(self, since_ts: float = 0.0) -> Iterator[ServedList]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {SERVED_COLUMNS} FROM served_lists WHERE ts >= %s ORDER BY ts", (since_ts,)
            ).fetchall()
        return (served_list(row) for row in rows)

    def prune_served(self, before_ts: float) -> int:
        with self._pool.connection() as conn:
            return conn.execute("DELETE FROM served_lists WHERE ts < %s", (before_ts,)).rowcount

    def count_served(self) -> int:
        with self._pool.connection() as conn:
            row = conn.execute("SELECT COUNT(*) FROM served_lists").fetchone()
        return int(row[0]) if row else 0
