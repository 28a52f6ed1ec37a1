"""SQLite store: articles, the embedding cache and events (the served-list log has its own
file, store/served.py).

One connection in WAL mode behind a lock: SQLite serialises writers anyway, and a single
connection keeps acknowledged writes visible to every reader in the process at once.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from recommender.articles import Article
from recommender.errors import StoreUnavailable
from recommender.events import Event

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    status TEXT NOT NULL,
    url TEXT,
    seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS articles_url ON articles(url);
CREATE INDEX IF NOT EXISTS articles_seq ON articles(seq);
CREATE TABLE IF NOT EXISTS embeddings (
    key TEXT PRIMARY KEY,
    dim INTEGER NOT NULL,
    vector BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    type TEXT NOT NULL,
    article_id TEXT NOT NULL,
    session_id TEXT,
    recommendation_id TEXT,
    position INTEGER
);
CREATE INDEX IF NOT EXISTS events_ts ON events(ts);
"""
# added later: files from before it get the column on open
EVENT_IDS = """
CREATE UNIQUE INDEX IF NOT EXISTS events_event_id ON events(event_id) WHERE event_id IS NOT NULL;
"""


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


class SqliteStore:
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
        self._conn.executescript(SCHEMA)
        self._add_event_ids()
        # reads of single articles on their own connection: in WAL mode a reader never waits
        # for a writer, so a write stuck behind another process's lock cannot stall them
        self._reader = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._reader.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        self._read_lock = threading.Lock()

    def _add_event_ids(self) -> None:
        columns = {row[1] for row in self._conn.execute("PRAGMA table_info(events)")}
        if "event_id" not in columns:
            with self._write() as conn:
                conn.execute("ALTER TABLE events ADD COLUMN event_id TEXT")
        self._conn.executescript(EVENT_IDS)

    def close(self) -> None:
        with self._lock, self._read_lock:
            self._reader.close()
            self._conn.close()

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

    def get_article(self, article_id: str) -> Article | None:
        with self._read_lock:
            row = self._reader.execute(
                "SELECT data FROM articles WHERE id=?", (article_id,)
            ).fetchone()
        return None if row is None else Article.model_validate_json(row[0])

    def iter_articles(self, chunk: int = 2_000, since_seq: int = 0) -> Iterator[Article]:
        """All articles (published or not) changed after since_seq, in id order, streamed."""
        last = ""
        while True:
            with self._lock:
                rows = self._conn.execute(
                    "SELECT id, data FROM articles WHERE id > ? AND seq > ? ORDER BY id LIMIT ?",
                    (last, since_seq, chunk),
                ).fetchall()
            if not rows:
                return
            for _, data in rows:
                yield Article.model_validate_json(data)
            last = rows[-1][0]

    def count_published(self) -> int:
        with self._lock:
            row = self._conn.execute(
                "SELECT COUNT(*) FROM articles WHERE status = 'published'"
            ).fetchone()
        return int(row[0])

    def max_seq(self) -> int:
        with self._lock:
            return int(
                self._conn.execute("SELECT COALESCE(MAX(seq), 0) FROM articles").fetchone()[0]
            )

    # embedding cache ----------------------------------------------------------------------------

    def _select_in(
        self, sql: str, keys: Sequence[str], read_only: bool = False
    ) -> list[tuple[Any, ...]]:
        """sql with `{marks}` for the keys, run over chunks of 500 (SQLite's variable limit)."""
        conn, lock = (self._reader, self._read_lock) if read_only else (self._conn, self._lock)
        rows: list[tuple[Any, ...]] = []
        for start in range(0, len(keys), 500):
            part = list(keys[start : start + 500])
            with lock:
                rows += conn.execute(sql.format(marks=",".join("?" * len(part))), part).fetchall()
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

    def add_events(self, events: Sequence[Event]) -> None:
        """Append durably; an event whose event_id is stored already is skipped (a retry)."""
        with self._write() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO events"
                " (ts, type, article_id, session_id, recommendation_id, position, event_id)"
                " VALUES (?,?,?,?,?,?,?)",
                [
                    (
                        e.ts,
                        e.type,
                        e.article_id,
                        e.session_id,
                        e.recommendation_id,
                        e.position,
                        e.event_id,
                    )
                    for e in events
                ],
            )

    def seen_event_ids(self, event_ids: Sequence[str]) -> set[str]:
        """Which of these event ids are stored already."""
        sql = "SELECT event_id FROM events WHERE event_id IN ({marks})"
        return {row[0] for row in self._select_in(sql, event_ids, read_only=True)}

    def iter_events(
        self, since_ts: float = 0.0, chunk: int = 20_000, after_seq: int = 0
    ) -> Iterator[Event]:
        """Events in the order they were written (after sequence number after_seq), streamed."""
        last_seq = after_seq
        while True:
            with self._lock:
                rows = self._conn.execute(
                    "SELECT seq, ts, type, article_id, session_id, recommendation_id, position,"
                    " event_id FROM events WHERE seq > ? AND ts >= ? ORDER BY seq LIMIT ?",
                    (last_seq, since_ts, chunk),
                ).fetchall()
            if not rows:
                return
            for row in rows:
                yield Event(*row[1:])
            last_seq = rows[-1][0]

    def last_event_seq(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0])

    def count_events(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])
