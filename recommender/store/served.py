"""The served-list log in its own SQLite file beside the main database: a row per answered list
is the most frequent write of all, so it gets its own file and lock and never queues behind
article or event writes."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from recommender.events import ServedList

log = logging.getLogger(__name__)

# A rowid table in the order lists are written, with an index on ts: each batch appends to the
# end of both B-trees. Keyed by the random recommendation id (the layout before, WITHOUT ROWID,
# moved by MIGRATE_KEYED), each row went to a random page of an ever larger tree: the writer's
# CPU per row grew with the table (14 us at first, 22 us at 1M rows, against a flat 3 us now;
# a unique index on the id alone still took 18 us). Nothing looks a list up by its id: the
# reads scan by ts and keep the first row of an id (first_of_each), and the service queues a
# list once (service/online.py), so a second row of an id is a caller's retry at most.
# Items joined by \x1f, which no id holds.
SCHEMA = """
CREATE TABLE IF NOT EXISTS served_lists (
    rid BLOB NOT NULL,
    ts REAL NOT NULL,
    kind TEXT NOT NULL,
    variant TEXT NOT NULL,
    context_id TEXT,
    section TEXT,
    items TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS served_lists_ts ON served_lists(ts);
"""
# a file of the layout before: its rows move to the new table once, when it is opened
MIGRATE_KEYED = """
DROP INDEX IF EXISTS served_lists_ts;
ALTER TABLE served_lists RENAME TO served_lists_keyed;
{schema}
INSERT INTO served_lists SELECT * FROM served_lists_keyed ORDER BY ts;
DROP TABLE served_lists_keyed;
"""
COLUMNS = "rid, ts, kind, variant, context_id, section, items"
BUSY_TIMEOUT_MS = 2_000
MIGRATE_WAIT_MS = 120_000
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
        self._conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        self._conn.executescript(SCHEMA)
        self._migrate_keyed()

    def _migrate_keyed(self) -> None:
        if not self._keyed():
            return
        # workers open the file together: one moves the rows, the others wait for it (longer
        # than the usual busy timeout: a large file takes seconds) and find nothing to move
        self._conn.execute(f"PRAGMA busy_timeout={MIGRATE_WAIT_MS}")
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            if self._keyed():
                for statement in MIGRATE_KEYED.format(schema=SCHEMA).split(";"):
                    if statement.strip():
                        self._conn.execute(statement)
                log.info("served_log.migrated", extra={"path": str(self.path)})
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        finally:
            self._conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")

    def _keyed(self) -> bool:
        """Whether the file has the layout before (the id as the key, WITHOUT ROWID)."""
        found = self._conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'served_lists'"
        ).fetchone()
        return found is not None and "WITHOUT ROWID" in str(found[0]).upper()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def add_served(self, lists: Sequence[ServedList]) -> None:
        rows = [served_row(s) for s in lists]
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                self._conn.executemany("INSERT INTO served_lists VALUES (?,?,?,?,?,?,?)", rows)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def iter_served(self, since_ts: float = 0.0) -> Iterator[ServedList]:
        """The lists since since_ts by time, each id once: its first row in the window."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {COLUMNS} FROM served_lists WHERE ts >= ? ORDER BY ts, rowid",
                (since_ts,),
            ).fetchall()
        return (served_list(row) for row in first_of_each(rows))

    def prune_served(self, before_ts: float) -> int:
        with self._lock:
            cursor = self._conn.execute("DELETE FROM served_lists WHERE ts < ?", (before_ts,))
            return cursor.rowcount

    def count_served(self) -> int:
        with self._lock:
            query = "SELECT COUNT(DISTINCT rid) FROM served_lists"
            return int(self._conn.execute(query).fetchone()[0])


def first_of_each(rows: Sequence[Sequence[Any]]) -> Iterator[Sequence[Any]]:
    """The rows in their order, each recommendation id (the first column) once."""
    seen: set[bytes] = set()
    for row in rows:
        if row[0] not in seen:
            seen.add(row[0])
            yield row


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
