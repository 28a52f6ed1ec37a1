from __future__ import annotations

import pytest

from recommender.config import PopularityConfig
from recommender.events import Event
from recommender.popularity import DecayedCounters, Popularity

HOUR = 3600.0
T = 1_800_000_000.0


def test_value_halves_after_one_half_life() -> None:
    counters = DecayedCounters(half_life_seconds=HOUR)
    counters.add("a", 1.0, T)
    counters.add("a", 1.0, T)
    assert counters.value("a", T) == pytest.approx(2.0)
    assert counters.value("a", T + HOUR) == pytest.approx(1.0)
    assert counters.value("a", T + 3 * HOUR) == pytest.approx(0.25)
    assert counters.value("unknown", T) == 0.0


def test_recent_clicks_outrank_older_larger_counts() -> None:
    counters = DecayedCounters(half_life_seconds=HOUR)
    for _ in range(4):
        counters.add("old", 1.0, T - 5 * HOUR)  # worth 4/32 now
    counters.add("new", 1.0, T)  # worth 1 now
    assert list(counters.ranked()) == ["new", "old"]


def test_ranked_walks_past_the_head() -> None:
    counters = DecayedCounters(half_life_seconds=HOUR)
    for i in range(100):
        counters.add(f"a{i}", float(i + 1), T)
    ranked = list(counters.ranked(first=5))
    assert ranked[:3] == ["a99", "a98", "a97"] and len(ranked) == 100 and len(set(ranked)) == 100


def test_log_space_survives_years_of_clock() -> None:
    counters = DecayedCounters(half_life_seconds=HOUR)
    far = T + 10 * 365 * 24 * HOUR
    counters.add("a", 1.0, far)
    assert counters.value("a", far + HOUR) == pytest.approx(0.5)


def test_one_session_counts_once_per_article_per_window() -> None:
    popularity = Popularity(PopularityConfig(session_dedup_minutes=30))
    counted = [popularity.record(Event(T + i * 10, "click", "a", "s1")) for i in range(50)]
    assert sum(counted) == 1
    assert popularity.record(Event(T + 31 * 60, "click", "a", "s1"))
    assert popularity.record(Event(T, "click", "a", "s2"))
    assert popularity.alltime.value("a", T) == pytest.approx(3.0)


def test_impressions_carry_no_popularity_by_default() -> None:
    popularity = Popularity(PopularityConfig())
    assert not popularity.record(Event(T, "impression", "a", "s1"))
    assert popularity.short.value("a", T) == 0.0


def test_trending_favours_a_sudden_rise_over_a_steady_favourite() -> None:
    popularity = Popularity(PopularityConfig(half_life_hours=1, long_half_life_hours=48))
    for hour in range(48):
        for n in range(3):
            popularity.record(Event(T - hour * HOUR, "click", "steady", f"s{hour}-{n}"))
    for n in range(6):
        popularity.record(Event(T - 60, "click", "rising", f"r{n}"))
    assert list(popularity.ranked(T, "trending"))[0] == "rising"
    assert list(popularity.ranked(T, "alltime"))[0] == "steady"
