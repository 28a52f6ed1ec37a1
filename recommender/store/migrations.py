"""Versioned schema migrations for both SQL backends. Each database records the versions it
has in `schema_migrations`; opening a store applies the missing ones in order, in one
transaction, so two processes opening the same database at once cannot both apply one.

Add a change as a new version at the end of both lists; never edit an applied one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


SQLITE_TRACKING = (
    "CREATE TABLE IF NOT EXISTS schema_migrations"
    " (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
)
POSTGRES_TRACKING = (
    "CREATE TABLE IF NOT EXISTS schema_migrations"
    " (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)"
)

# the same SQL in both dialects (a partial unique index), at a different version in each
EVENT_IDS = (
    "event ids: a batch retried after a lost answer is stored once",
    (
        "ALTER TABLE events ADD COLUMN event_id TEXT",
        "CREATE UNIQUE INDEX events_event_id ON events(event_id) WHERE event_id IS NOT NULL",
    ),
)

SQLITE: tuple[Migration, ...] = (
    # IF NOT EXISTS: databases made before versioning already have these tables
    Migration(
        1,
        "articles, embeddings, events",
        (
            "CREATE TABLE IF NOT EXISTS articles (id TEXT PRIMARY KEY, data TEXT NOT NULL,"
            " status TEXT NOT NULL, url TEXT, seq INTEGER NOT NULL)",
            "CREATE INDEX IF NOT EXISTS articles_url ON articles(url)",
            "CREATE INDEX IF NOT EXISTS articles_seq ON articles(seq)",
            "CREATE TABLE IF NOT EXISTS embeddings (key TEXT PRIMARY KEY, dim INTEGER NOT NULL,"
            " vector BLOB NOT NULL)",
            "CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
            " ts REAL NOT NULL, type TEXT NOT NULL, article_id TEXT NOT NULL, session_id TEXT,"
            " recommendation_id TEXT, position INTEGER)",
            "CREATE INDEX IF NOT EXISTS events_ts ON events(ts)",
        ),
    ),
    Migration(
        2,
        "events not yet counted by the shared popularity",
        (
            "ALTER TABLE events ADD COLUMN counted INTEGER NOT NULL DEFAULT 1",
            "CREATE INDEX events_uncounted ON events(seq) WHERE counted = 0",
        ),
    ),
    Migration(3, *EVENT_IDS),
    Migration(
        4,
        "event aggregates: raw events past the retention window, per article and hour",
        (
            "CREATE TABLE event_aggregates (article_id TEXT NOT NULL, hour INTEGER NOT NULL,"
            " type TEXT NOT NULL, events INTEGER NOT NULL, counted INTEGER NOT NULL,"
            " PRIMARY KEY (article_id, hour, type))",
            "CREATE TABLE event_compaction (id INTEGER PRIMARY KEY CHECK (id = 1),"
            " through_seq INTEGER NOT NULL, through_ts REAL NOT NULL)",
        ),
    ),
)

POSTGRES: tuple[Migration, ...] = (
    Migration(
        1,
        "articles, embeddings, events",
        (
            # byte order (C), as SQLite: keyset paging by id compares and sorts the same way
            'CREATE TABLE articles (id TEXT COLLATE "C" PRIMARY KEY, data TEXT NOT NULL,'
            " status TEXT NOT NULL, url TEXT, seq BIGINT NOT NULL)",
            "CREATE INDEX articles_url ON articles(url)",
            "CREATE INDEX articles_seq ON articles(seq)",
            "CREATE TABLE embeddings (key TEXT PRIMARY KEY, dim INTEGER NOT NULL,"
            " vector BYTEA NOT NULL)",
            "CREATE TABLE events (seq BIGSERIAL PRIMARY KEY, ts DOUBLE PRECISION NOT NULL,"
            " type TEXT NOT NULL, article_id TEXT NOT NULL, session_id TEXT,"
            " recommendation_id TEXT, position INTEGER)",
            "CREATE INDEX events_ts ON events(ts)",
        ),
    ),
    Migration(
        2,
        "events not yet counted by the shared popularity",
        (
            "ALTER TABLE events ADD COLUMN counted BOOLEAN NOT NULL DEFAULT TRUE",
            "CREATE INDEX events_uncounted ON events(seq) WHERE NOT counted",
        ),
    ),
    Migration(
        3,
        "served lists, shared by the replicas for click-through (PostgresServedLog)",
        (
            "CREATE TABLE served_lists (rid BYTEA PRIMARY KEY, ts DOUBLE PRECISION NOT NULL,"
            " kind TEXT NOT NULL, variant TEXT NOT NULL, context_id TEXT, section TEXT,"
            " items TEXT NOT NULL)",
            "CREATE INDEX served_lists_ts ON served_lists(ts)",
        ),
    ),
    Migration(4, *EVENT_IDS),
    Migration(
        5,
        "event aggregates: raw events past the retention window, per article and hour",
        (
            "CREATE TABLE event_aggregates (article_id TEXT NOT NULL, hour BIGINT NOT NULL,"
            " type TEXT NOT NULL, events BIGINT NOT NULL, counted BIGINT NOT NULL,"
            " PRIMARY KEY (article_id, hour, type))",
            "CREATE TABLE event_compaction (id INTEGER PRIMARY KEY CHECK (id = 1),"
            " through_seq BIGINT NOT NULL, through_ts DOUBLE PRECISION NOT NULL)",
        ),
    ),
)


def apply(
    execute: Callable[..., Any],
    tracking: str,
    migrations: tuple[Migration, ...],
    placeholder: str,
) -> list[int]:
    """Inside the caller's transaction (which a second process waits for): create the tracking
    table, apply the versions it lacks in order, record each. execute(sql, params=()) runs one
    statement and returns a cursor. Returns the versions applied now."""
    execute(tracking)
    applied = {row[0] for row in execute("SELECT version FROM schema_migrations").fetchall()}
    record = (
        "INSERT INTO schema_migrations (version, name, applied_at)"
        f" VALUES ({placeholder}, {placeholder}, {placeholder})"
    )
    done = []
    for migration in migrations:
        if migration.version in applied:
            continue
        for statement in migration.statements:
            execute(statement)
        params: Sequence[Any] = (migration.version, migration.name, time.time())
        execute(record, params)
        log.info(
            "store.migrated", extra={"version": migration.version, "migration": migration.name}
        )
        done.append(migration.version)
    return done
