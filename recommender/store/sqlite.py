"""SQLite store: articles, the embedding cache and events. The only sqlite3 user.

One connection in WAL mode behind a lock: SQLite serialises writers anyway, and a single
connection keeps acknowledged writes visible to every reader in the process at once.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from recommender.articles import Article
from recommender.events import Event
from recommender.store.migrations import SQLITE, SQLITE_TRACKING, pending

EVENT_COLUMNS = "ts, type, article_id, session_id, recommendation_id, position"


class SqliteStore:
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
            conn.execute(SQLITE_TRACKING)
            applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for migration in pending(SQLITE, applied):
                for statement in migration.statements:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?,?,?)",
                    (migration.version, migration.name, time.time()),
                )

    def schema_version(self) -> int:
        with self._lock:
            row = self._conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0)

    def health_problem(self) -> str | None:
        """An embedded file is there as long as the process is."""
        return None

    def close(self) -> None:
        with self._lock:
            self._conn.close()

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

    def get_article(self, article_id: str) -> Article | None:
        with self._lock:
            row = self._conn.execute(
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
                [
                    (e.ts, e.type, e.article_id, e.session_id, e.recommendation_id, e.position)
                    + (int(counted),)
                    for e in events
                ],
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

    def iter_events(self, since_ts: float = 0.0, chunk: int = 20_000) -> Iterator[Event]:
        """Events in time order, streamed in chunks."""
        last_seq = 0
        while True:
            with self._lock:
                rows = self._conn.execute(
                    f"SELECT seq, {EVENT_COLUMNS}"
                    " FROM events WHERE seq > ? AND ts >= ? ORDER BY seq LIMIT ?",
                    (last_seq, since_ts, chunk),
                ).fetchall()
            if not rows:
                return
            for row in rows:
                yield Event(*row[1:])
            last_seq = rows[-1][0]

    def count_events(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])
