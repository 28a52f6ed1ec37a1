"""The popularity contract: every backend of PopularityCounters passes the same tests, through
the protocol's methods only: in memory, and Redis (the real server, a key prefix per test)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest

from recommender.config import PopularityConfig
from recommender.events import Event
from recommender.popularity import Popularity, PopularityCounters
from recommender.redis_state import RedisPopularity, connect
from tests.servers import REDIS_URL, redis_prefix

HOUR = 3600.0
T = 1_800_000_000.0
Factory = Callable[[PopularityConfig], PopularityCounters]


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> Iterator[Factory]:
    if request.param == "memory":
        yield Popularity
        return
    with redis_prefix() as prefix:
        client = connect(REDIS_URL)
        # refresh 0: read every write back at once (replicas read a copy at most 0.5 s old)
        yield lambda config: RedisPopularity(client, config, prefix, refresh_seconds=0)
        client.close()


def test_clicks_rank_and_score(backend: Factory) -> None:
    popularity = backend(PopularityConfig())
    events = [Event(T, "click", "a", f"s{i}") for i in range(3)] + [Event(T, "click", "b", "x")]
    assert popularity.record_many(events) == 4
    assert list(popularity.ranked(T))[:2] == ["a", "b"]
    scores = popularity.scores(["a", "b", "unknown"], T)
    assert scores[0] == pytest.approx(3.0) and scores[1] == pytest.approx(1.0) and scores[2] == 0
    normalised = popularity.normalised(["a", "b", "unknown"], T)
    assert normalised[0] == pytest.approx(1.0) and 0 < normalised[1] < 1 and normalised[2] == 0


def test_scores_decay_with_the_half_life(backend: Factory) -> None:
    popularity = backend(PopularityConfig(half_life_hours=1))
    popularity.record(Event(T, "click", "a", "s1"))
    assert popularity.scores(["a"], T + HOUR)[0] == pytest.approx(0.5)
    assert popularity.scores(["a"], T + HOUR, "alltime")[0] == pytest.approx(1.0)


def test_one_session_counts_once_within_the_window(backend: Factory) -> None:
    popularity = backend(PopularityConfig(session_dedup_minutes=30))
    assert popularity.record(Event(T, "click", "a", "s1"))
    assert not popularity.record(Event(T + 60, "click", "a", "s1"))
    assert popularity.record(Event(T + 31 * 60, "click", "a", "s1"))
    assert not popularity.record(Event(T, "impression", "b", "s2"))  # weight 0 by default
    # within one batch too, in order
    batch = [Event(T, "click", "c", "s1"), Event(T + 5, "click", "c", "s1"), Event(T, "view", "c")]
    assert popularity.record_many(batch) == 2
    assert popularity.scores(["c"], T, "alltime")[0] == pytest.approx(2.0)


def test_empty_counters_answer_zeros(backend: Factory) -> None:
    popularity = backend(PopularityConfig())
    assert list(popularity.ranked(T)) == [] and list(popularity.ranked(T, "trending")) == []
    assert np.all(popularity.normalised(["a"], T) == 0)
    for window in ("decayed", "trending", "alltime"):
        assert np.all(popularity.scores(["a", "b"], T, window) == 0)


def test_trending_favours_the_climber_and_alltime_keeps_everything(backend: Factory) -> None:
    popularity = backend(PopularityConfig(half_life_hours=1, long_half_life_hours=48))
    popularity.record_many(Event(T - 24 * HOUR, "click", "steady", f"s{i}") for i in range(10))
    popularity.record_many(Event(T, "click", "fresh", f"f{i}") for i in range(3))
    assert list(popularity.ranked(T, "trending"))[0] == "fresh"
    assert list(popularity.ranked(T, "alltime")) == ["steady", "fresh"]
    assert popularity.scores(["steady"], T, "alltime")[0] == pytest.approx(10.0)
    assert popularity.health_problem() is None
