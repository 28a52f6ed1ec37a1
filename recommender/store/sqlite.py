"""SQLite store: articles, the embedding cache and events (the served-list log has its own
file, store/served.py).

One connection in WAL mode behind a lock: SQLite serialises writers anyway, and a single
connection keeps acknowledged writes visible to every reader in the process at once.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from recommender.articles import Article
from recommender.errors import StoreUnavailable
from recommender.events import Event, EventAggregate
from recommender.store import migrations
from recommender.store.sql import (
    ADVANCE_COMPACTION,
    EVENT_COLUMNS,
    OLDEST_EVENTS,
    UPSERT_AGGREGATE,
    SqlReads,
    aggregate_rows,
    event_row,
)


def unavailable(exc: sqlite3.Error) -> StoreUnavailable:
    return StoreUnavailable(f"the database cannot take writes now ({exc}); nothing was written")


def check_writable(path: Path) -> None:
    """SQLite in WAL mode maps the -shm file: one it cannot write kills the process (SIGBUS)
    without a word, so say so before opening. (A read-only database file itself is fine: reads
    are served, writes answer 503.)"""
    for side in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if side.exists() and not os.access(side, os.R_OK | os.W_OK):
            raise StoreUnavailable(
                f"{side} is not readable and writable by this process: fix its owner or mode"
            )


class SqliteStore(SqlReads):
    def __init__(self, path: Path, synchronous: str = "FULL", busy_timeout_ms: int = 1000) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        check_writable(path)
        self.path = path
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        # FULL: an acknowledged write survives power loss, not only a process crash
        self._conn.execute(f"PRAGMA synchronous={synchronous}")
        # short: a write that cannot get the lock answers 503 soon rather than hang a worker
        self._conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        self._migrate()
        # reads on their own connection: in WAL mode a reader never waits for a writer, so a
        # write stuck behind another process's lock cannot stall them
        self._reader = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._reader.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        self._read_lock = threading.Lock()

    def _migrate(self) -> None:
        # BEGIN IMMEDIATE: a second process opening the same file waits, then finds it done
        with self._write() as conn:
            migrations.apply(conn.execute, migrations.SQLITE_TRACKING, migrations.SQLITE, "?")

    def health_problem(self) -> str | None:
        """An embedded file is there as long as the process is."""
        return None

    def close(self) -> None:
        with self._lock, self._read_lock:
            self._reader.close()
            self._conn.close()

    def _rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        with self._read_lock:
            return self._reader.execute(sql, params).fetchall()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction under the lock; rolled back when anything fails. A database
        locked by another process, read-only or failing is StoreUnavailable (503)."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise unavailable(exc) from exc
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException as exc:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.OperationalError):
                    raise unavailable(exc) from exc
                raise

    # articles --------------------------------------------------------------------------------

    def upsert_articles(self, articles: Sequence[Article]) -> int:
        """Insert or replace; returns the change sequence number given to this batch."""
        with self._write() as conn:
            seq = int(conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM articles").fetchone()[0])
            conn.executemany(
                "INSERT OR REPLACE INTO articles (id, data, status, url, seq) VALUES (?,?,?,?,?)",
                [(a.id, a.model_dump_json(), a.status, a.url, seq) for a in articles],
            )
        return seq

    # embedding cache ----------------------------------------------------------------------------

    def _select_in(self, sql: str, keys: Sequence[str]) -> list[tuple[Any, ...]]:
        """sql with `{marks}` for the keys, run over chunks of 500 (SQLite's variable limit)."""
        rows: list[tuple[Any, ...]] = []
        for start in range(0, len(keys), 500):
            part = list(keys[start : start + 500])
            rows += self._rows(sql.format(marks=",".join("?" * len(part))), part)
        return rows

    def get_embeddings(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        sql = "SELECT key, vector FROM embeddings WHERE key IN ({marks})"
        for key, blob in self._select_in(sql, keys):
            found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_embeddings(self, items: Iterable[tuple[str, np.ndarray]]) -> None:
        rows = [
            (key, int(vec.shape[0]), np.asarray(vec, np.float32).tobytes()) for key, vec in items
        ]
        with self._write() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO embeddings (key, dim, vector) VALUES (?,?,?)", rows
            )

    # events -----------------------------------------------------------------------------------

    def add_events(self, events: Sequence[Event], counted: bool = True) -> list[int]:
        """Append durably; returns the events' sequence numbers, in order. An event whose
        event_id is stored already is skipped (a retry)."""
        if not events:
            return []
        with self._write() as conn:
            before = conn.total_changes
            conn.executemany(
                f"INSERT OR IGNORE INTO events ({EVENT_COLUMNS}, counted, event_id)"
                " VALUES (?,?,?,?,?,?,?,?)",
                [(*event_row(e), int(counted), e.event_id) for e in events],
            )
            stored = conn.total_changes - before
            if not stored:
                return []
            # one writer under BEGIN IMMEDIATE: what it stored got consecutive numbers
            last = int(conn.execute("SELECT last_insert_rowid()").fetchone()[0])
        return list(range(last - stored + 1, last + 1))

    def seen_event_ids(self, event_ids: Sequence[str]) -> set[str]:
        """Which of these event ids are stored already."""
        sql = "SELECT event_id FROM events WHERE event_id IN ({marks})"
        return {row[0] for row in self._select_in(sql, event_ids)}

    def mark_uncounted(self, seqs: Sequence[int]) -> None:
        with self._write() as conn:
            conn.executemany("UPDATE events SET counted = 0 WHERE seq = ?", [(s,) for s in seqs])

    def take_uncounted(self, count: Callable[[list[Event]], object], limit: int = 1_000) -> int:
        """Hand the oldest events not yet counted to `count`; they are marked counted only when
        it returns (an exception leaves them for the next try)."""
        with self._write() as conn:
            rows = conn.execute(
                f"SELECT seq, {EVENT_COLUMNS} FROM events WHERE counted = 0 ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()
            if rows:
                count([Event(*row[1:]) for row in rows])
                conn.executemany(
                    "UPDATE events SET counted = 1 WHERE seq = ?", [(row[0],) for row in rows]
                )
        return len(rows)

    def compact_events(
        self,
        before_ts: float,
        aggregate: Callable[[list[Event]], Sequence[EventAggregate]],
        limit: int = 10_000,
    ) -> int:
        """Move up to `limit` of the oldest events from before before_ts into the hourly
        aggregates `aggregate` makes of them, in one transaction: a crash leaves both or neither,
        so nothing is counted twice or lost. Events the shared popularity has not counted yet
        stay. Returns how many were moved (0: nothing left)."""
        with self._write() as conn:
            rows = conn.execute(OLDEST_EVENTS, (before_ts, limit)).fetchall()
            if rows:
                events = [Event(*row[1:]) for row in rows]
                conn.executemany(UPSERT_AGGREGATE, aggregate_rows(aggregate(events)))
                conn.executemany("DELETE FROM events WHERE seq = ?", [(row[0],) for row in rows])
                conn.execute(
                    ADVANCE_COMPACTION, (max(row[0] for row in rows), max(e.ts for e in events))
                )
        return len(rows)
