"""The popularity contract: every backend of PopularityCounters passes the same tests, through
the protocol's methods only (in memory today; a shared one plugs in here)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from recommender.config import PopularityConfig
from recommender.events import Event
from recommender.popularity import Popularity, PopularityCounters

HOUR = 3600.0
T = 1_800_000_000.0
Factory = Callable[[PopularityConfig], PopularityCounters]


@pytest.fixture(params=["memory"])
def backend(request: pytest.FixtureRequest) -> Factory:
    factories: dict[str, Factory] = {"memory": Popularity}
    return factories[request.param]


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


def test_empty_counters_answer_zeros(backend: Factory) -> None:
    popularity = backend(PopularityConfig())
    assert list(popularity.ranked(T)) == [] and list(popularity.ranked(T, "trending")) == []
    assert np.all(popularity.normalised(["a"], T) == 0)
