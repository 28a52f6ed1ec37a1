"""SQLite store: articles, the embedding cache and events (the served-list log has its own
file, store/served.py).

One connection in WAL mode behind a lock: SQLite serialises writers anyway, and a single
connection keeps acknowledged writes visible to every reader in the process at once.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from recommender.articles import Article
from recommender.events import Event
from recommender.store import migrations
from recommender.store.sql import EVENT_COLUMNS, SqlReads, event_row


class SqliteStore(SqlReads):
    def __init__(self, path: Path, synchronous: str = "FULL") -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        # FULL: an acknowledged write survives power loss, not only a process crash
        self._conn.execute(f"PRAGMA synchronous={synchronous}")
        self._conn.execute("PRAGMA busy_timeout=10000")
        self._migrate()

    def _migrate(self) -> None:
        # BEGIN IMMEDIATE: a second process opening the same file waits, then finds it done
        with self._write() as conn:
            migrations.apply(conn.execute, migrations.SQLITE_TRACKING, migrations.SQLITE, "?")

    def health_problem(self) -> str | None:
        """An embedded file is there as long as the process is."""
        return None

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction under the lock; rolled back when anything fails."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
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

    def get_embeddings(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(keys), 500):
            part = list(keys[start : start + 500])
            marks = ",".join("?" * len(part))
            with self._lock:
                rows = self._conn.execute(
                    f"SELECT key, vector FROM embeddings WHERE key IN ({marks})", part
                ).fetchall()
            for key, blob in rows:
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
        """Append durably; returns the events' sequence numbers, in order."""
        if not events:
            return []
        with self._write() as conn:
            conn.executemany(
                f"INSERT INTO events ({EVENT_COLUMNS}, counted) VALUES (?,?,?,?,?,?,?)",
                [(*event_row(e), int(counted)) for e in events],
            )
            # one writer under BEGIN IMMEDIATE: the batch got consecutive numbers
            last = int(conn.execute("SELECT last_insert_rowid()").fetchone()[0])
        return list(range(last - len(events) + 1, last + 1))

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
