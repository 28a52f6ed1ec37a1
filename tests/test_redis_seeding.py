"""An empty Redis (restarted: it keeps nothing on disk) is refilled from the whole history: the
compacted hours (event_aggregates) and the raw window, as a start-up in process counts them. Over
the real Redis and both real stores (SQLite, PostgreSQL): popularity refilled after
`compact-events` equals popularity refilled before it."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import redis

from recommender.config import Settings
from recommender.events import HOUR
from recommender.service import RecommenderService
from recommender.service.compaction import compact_events
from recommender.store import open_store
from tests.factories import NOW, make_settings, small_corpus
from tests.servers import REDIS_URL, postgres_schema
from tests.test_compaction import history, popularity_of


@pytest.fixture(params=["sqlite", "postgres"])
def settings(
    request: pytest.FixtureRequest, tmp_path: Path, redis_key_prefix: str
) -> Iterator[Settings]:
    values: dict[str, object] = {
        "redis_url": REDIS_URL,
        "redis_prefix": redis_key_prefix,
        "redis_refresh_seconds": 0,  # every read sees the counters as they are now
        "compaction_interval_seconds": 0,
        "compaction_batch_events": 97,  # many batches: the de-duplication crosses them
        "half_life_hours": 72,
        "trending_long_half_life_hours": 24 * 14,
    }
    if request.param == "sqlite":
        yield make_settings(tmp_path, **values)
    else:
        with postgres_schema() as url:
            yield make_settings(tmp_path, database_url=url, **values)


def refilled(svc: RecommenderService, prefix: str) -> dict[str, np.ndarray]:
    """Popularity after Redis lost everything and the upkeep filled it again."""
    client = redis.Redis.from_url(REDIS_URL)
    client.delete(*client.scan_iter(match=f"{{{prefix}}}*"))
    client.close()
    assert svc._upkeep.count_backlog() > 0
    return popularity_of(svc)


def test_an_empty_redis_is_refilled_from_the_aggregates_and_the_raw_window(
    settings: Settings,
) -> None:
    svc = RecommenderService(settings)
    svc.start()
    try:
        svc.upsert(small_corpus())
        svc._store.add_events(history(45))
        before = refilled(svc, settings.redis_prefix)

        store = open_store(settings)
        # the cutoff in the quiet hours between two days (test_compaction says why)
        result = compact_events(store, settings, now=NOW.timestamp() - 12 * HOUR)
        raw_left = store.count_events()
        store.close()
        assert result.moved > 0 and result.batches > 1 and raw_left > 0

        after = refilled(svc, settings.redis_prefix)
    finally:
        svc.close()
    np.testing.assert_allclose(after["alltime"], before["alltime"], rtol=1e-9)
    # an aggregate counts at the middle of its hour: off by at most half an hour of decay
    drift = math.pow(2, 0.5 / 72) - 1
    np.testing.assert_allclose(after["decayed"], before["decayed"], rtol=drift)
    assert not np.allclose(before["decayed"], 0)
