"""Storage: the protocols the service depends on, and their backends (SQLite, PostgreSQL, in
memory). `open_store` picks one by the settings' database URL."""

from pathlib import Path

from recommender.config import Settings
from recommender.errors import InvalidInput
from recommender.store.memory import MemoryStore
from recommender.store.protocols import ArticleStore, EventLog, ServedLog, Store, VectorCache
from recommender.store.served import MemoryServedLog, SqliteServedLog
from recommender.store.sqlite import SqliteStore

__all__ = [
    "ArticleStore",
    "EventLog",
    "MemoryServedLog",
    "MemoryStore",
    "ServedLog",
    "SqliteServedLog",
    "SqliteStore",
    "Store",
    "VectorCache",
    "open_served_log",
    "open_store",
]

SQLITE_PREFIX = "sqlite:///"


def open_store(settings: Settings) -> Store:
    """The store the database URL names: `sqlite:///<path>` (the default, a file under the data
    dir) or `postgresql://...`."""
    url = settings.resolved_database_url
    if url.startswith(SQLITE_PREFIX):
        return SqliteStore(
            Path(url[len(SQLITE_PREFIX) :]),
            settings.sqlite_synchronous,
            settings.sqlite_busy_timeout_ms,
        )
    if url.startswith(("postgresql://", "postgres://")):
        # imported here: the embedded default never loads the PostgreSQL driver
        from recommender.store.postgres import PostgresStore

        return PostgresStore(
            url, pool_size=settings.database_pool_size, timeout=settings.database_timeout_seconds
        )
    raise InvalidInput(
        "RECOMMENDER_DATABASE_URL must start with sqlite:/// or postgresql://,"
        f" not {url.split(':', 1)[0]!r}"
    )


def open_served_log(settings: Settings) -> ServedLog:
    """The served-list log: in the shared PostgreSQL database when the store is there (so
    every replica's lists are joined), else in its own SQLite file beside the database."""
    url = settings.resolved_database_url
    if url.startswith(("postgresql://", "postgres://")):
        from recommender.store.postgres import PostgresServedLog

        return PostgresServedLog(url, settings.database_timeout_seconds)
    return SqliteServedLog(settings.data_dir / "served.db")
