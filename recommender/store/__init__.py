"""Storage: the protocols the service depends on, and their backends (SQLite, in memory)."""

from recommender.config import Settings
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


def open_store(settings: Settings) -> SqliteStore:
    """The store the settings name: the SQLite file under the data dir."""
    return SqliteStore(
        settings.db_path, settings.sqlite_synchronous, settings.sqlite_busy_timeout_ms
    )


def open_served_log(settings: Settings) -> SqliteServedLog:
    """The served-list log: its own SQLite file beside the database."""
    return SqliteServedLog(settings.data_dir / "served.db")
