"""SQLite store: articles, the embedding cache and events (the served-list log has its own
file, store/served.py).

One connection in WAL mode behind a lock: SQLite serialises writers anyway, and a single
connection keeps acknowledged writes visible to every reader in the process at once.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from recommender.articles import Article
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
        self._conn.executescript(SCHEMA)

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

    def add_events(self, events: Sequence[Event]) -> None:
        with self._write() as conn:
            conn.executemany(
                "INSERT INTO events"
                " (ts, type, article_id, session_id, recommendation_id, position)"
                " VALUES (?,?,?,?,?,?)",
                [
                    (e.ts, e.type, e.article_id, e.session_id, e.recommendation_id, e.position)
                    for e in events
                ],
            )

    def iter_events(self, since_ts: float = 0.0, chunk: int = 20_000) -> Iterator[Event]:
        """Events in time order, streamed in chunks."""
        last_seq = 0
        while True:
            with self._lock:
                rows = self._conn.execute(
                    "SELECT seq, ts, type, article_id, session_id, recommendation_id, position"
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
