"""The served-list log in its own SQLite file beside the main database: a row per answered list
is the most frequent write of all, so it gets its own file and lock and never queues behind
article or event writes."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from recommender.events import ServedList

# WITHOUT ROWID: the 16-byte recommendation id is the key, stored once (a rowid table would
# hold it twice, in the table and in its unique index); items joined by \x1f, which no id holds
SCHEMA = """
CREATE TABLE IF NOT EXISTS served_lists (
    rid BLOB PRIMARY KEY,
    ts REAL NOT NULL,
    kind TEXT NOT NULL,
    variant TEXT NOT NULL,
    context_id TEXT,
    section TEXT,
    items TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS served_lists_ts ON served_lists(ts);
"""
SEPARATOR = "\x1f"


def rid_key(recommendation_id: str) -> bytes:
    """uuid4 hex ids pack into 16 bytes; anything else is kept as its UTF-8 bytes."""
    try:
        if len(recommendation_id) == 32:
            return bytes.fromhex(recommendation_id)
    except ValueError:
        pass
    return recommendation_id.encode()


def rid_text(key: bytes) -> str:
    return key.hex() if len(key) == 16 else key.decode()


def served_row(s: ServedList) -> tuple[Any, ...]:
    """A served list as the row both SQL backends store."""
    items = SEPARATOR.join(s.item_ids)
    return (rid_key(s.recommendation_id), s.ts, s.kind, s.variant, s.context_id, s.section, items)


def served_list(row: Sequence[Any]) -> ServedList:
    rid, ts, kind, variant, context_id, section, items = row
    ids = tuple(items.split(SEPARATOR)) if items else ()
    return ServedList(rid_text(bytes(rid)), ts, kind, variant, context_id, section, ids)


class SqliteServedLog:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL: a power cut may lose the last batch of served lists, never corrupt the file;
        # these rows are measurements, not acknowledged writes
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA busy_timeout=2000")
        self._conn.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def add_served(self, lists: Sequence[ServedList]) -> None:
        rows = [served_row(s) for s in lists]
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                self._conn.executemany(
                    "INSERT OR IGNORE INTO served_lists VALUES (?,?,?,?,?,?,?)", rows
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def iter_served(self, since_ts: float = 0.0) -> Iterator[ServedList]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT rid, ts, kind, variant, context_id, section, items FROM served_lists"
                " WHERE ts >= ? ORDER BY ts",
                (since_ts,),
            ).fetchall()
        return (served_list(row) for row in rows)

    def prune_served(self, before_ts: float) -> int:
        with self._lock:
            cursor = self._conn.execute("DELETE FROM served_lists WHERE ts < ?", (before_ts,))
            return cursor.rowcount

    def count_served(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM served_lists").fetchone()[0])


class MemoryServedLog:
    """The same contract in memory, for tests and throw-away runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, ServedList] = {}

    def close(self) -> None:
        """Nothing to release."""

    def add_served(self, lists: Sequence[ServedList]) -> None:
        with self._lock:
            for served in lists:
                self._rows.setdefault(served.recommendation_id, served)

    def iter_served(self, since_ts: float = 0.0) -> Iterator[ServedList]:
        with self._lock:
            rows = sorted(self._rows.values(), key=lambda s: s.ts)
        return (s for s in rows if s.ts >= since_ts)

    def prune_served(self, before_ts: float) -> int:
        with self._lock:
            old = [rid for rid, s in self._rows.items() if s.ts < before_ts]
            for rid in old:
                del self._rows[rid]
            return len(old)

    def count_served(self) -> int:
        return len(self._rows)
