"""Storage: the protocols the service depends on, and their backends (SQLite, in memory)."""

from recommender.config import Settings
from recommender.store.memory import MemoryStore
from recommender.store.protocols import ArticleStore, EventLog, Store, VectorCache
from recommender.store.sqlite import SqliteStore

__all__ = [
    "ArticleStore",
    "EventLog",
    "MemoryStore",
    "SqliteStore",
    "Store",
    "VectorCache",
    "open_store",
]


def open_store(settings: Settings) -> SqliteStore:
    """The store the settings name: the SQLite file under the data dir."""
    return SqliteStore(settings.db_path, settings.sqlite_synchronous)
