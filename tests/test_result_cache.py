"""The result cache: exact invalidation on article writes, popularity within the TTL, the same
lists with the cache on and off, LRU bounds and index generations."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from recommender.events import Event
from recommender.ranking import RankedList
from recommender.service import RecommenderService
from recommender.service.cache import ResultCache
from tests.factories import article, make_settings, small_corpus


def ids(ranked: RankedList) -> list[str]:
    return [item.card.id for item in ranked.items]


@pytest.fixture
def cached(tmp_path: Path) -> Iterator[RecommenderService]:
    svc = RecommenderService(make_settings(tmp_path, result_cache_ttl_seconds=3600))
    svc.start()
    svc.upsert(small_corpus())
    yield svc
    svc.close()


def test_a_repeated_request_is_served_from_the_cache(cached: RecommenderService) -> None:
    first = cached.related("cuba-1", 4)
    assert cached.related("cuba-1", 4) is first
    assert cached.related("cuba-1", 3) is not first  # other parameters, another list
    stats = cached.cache_stats()
    assert stats.hits == 1 and stats.misses == 2 and stats.size == 2


def test_an_update_of_a_listed_article_shows_at_once(cached: RecommenderService) -> None:
    listed = ids(cached.related("cuba-1", 4))[1]
    before = next(a for a in small_corpus() if a.id == listed)
    cached.upsert([before.model_copy(update={"title": "Nieuwe kop"})])
    after = cached.related("cuba-1", 4)
    assert {item.card.id: item.card.title for item in after.items}[listed] == "Nieuwe kop"


def test_an_unpublished_article_leaves_cached_lists_at_once(cached: RecommenderService) -> None:
    shown = ids(cached.related("cuba-1", 4))
    popular = ids(cached.popular(6, context="sport-1"))
    cached.unpublish(shown[0])
    assert shown[0] not in ids(cached.related("cuba-1", 4))
    cached.unpublish(popular[0])
    assert popular[0] not in ids(cached.popular(6, context="sport-1"))


def test_an_update_of_the_query_article_invalidates_its_list(cached: RecommenderService) -> None:
    first = cached.related("cuba-1", 4)
    query = next(a for a in small_corpus() if a.id == "cuba-1")
    cached.upsert([query.model_copy(update={"section": "Sport"})])
    assert cached.related("cuba-1", 4) is not first
    untouched = cached.related("storm-1", 2)
    cached.upsert([query])
    assert cached.related("storm-1", 2) is untouched  # lists not about cuba-1 stay cached


def test_a_new_article_is_listed_for_its_url_at_once(cached: RecommenderService) -> None:
    url = "https://example.test/new-story"
    assert cached.related_by_url(url, 2).fallback
    new = article("new-story", "Cuba Havana embargo", "Cuba Havana embargo eiland", url=url)
    cached.upsert([new])
    assert not cached.related_by_url(url, 2).fallback


def test_popularity_shows_within_the_ttl(tmp_path: Path) -> None:
    ttl = 0.5
    svc = RecommenderService(make_settings(tmp_path, result_cache_ttl_seconds=ttl))
    svc.start()
    svc.upsert(small_corpus())
    try:
        top = ids(svc.popular(1))
        now = datetime.now(UTC).timestamp()
        svc.record_events([Event(now, "click", "sport-3", f"s{i}") for i in range(20)])
        assert ids(svc.popular(1)) == top  # cached: popularity may lag up to the TTL
        time.sleep(ttl + 0.05)
        assert ids(svc.popular(1)) == ["sport-3"]
    finally:
        svc.close()


def test_lists_are_identical_with_the_cache_on_and_off(tmp_path: Path) -> None:
    on = RecommenderService(make_settings(tmp_path / "on", result_cache_ttl_seconds=3600))
    off = RecommenderService(make_settings(tmp_path / "off", result_cache_size=0))
    now = datetime.now(UTC).timestamp()
    clicks = [Event(now - i, "click", f"storm-{1 + i % 3}", f"s{i}") for i in range(9)]
    for svc in (on, off):
        svc.start()
        svc.upsert(small_corpus())
        svc.record_events(clicks)

    # scores of popular items decay with the clock between two calls: compared to 1e-3
    def lists(svc: RecommenderService) -> dict[tuple[str, str], list[tuple[str, float]]]:
        out = {}
        for a in small_corpus():
            for name, ranked in (
                ("related", svc.related(a.id, 4)),
                ("section", svc.related(a.id, 2, section="Sport")),
                ("exclude", svc.related(a.id, 3, exclude={"cuba-2"})),
                ("context", svc.popular(3, context=a.id)),
            ):
                out[(a.id, name)] = [(i.card.id, i.score) for i in ranked.items]
        out[("", "popular")] = [(i.card.id, i.score) for i in svc.popular(6).items]
        return out

    def same(a: list[list[tuple[str, float]]], b: list[list[tuple[str, float]]]) -> bool:
        ids_a = [[i for i, _ in listed] for listed in a]
        ids_b = [[i for i, _ in listed] for listed in b]
        scores_a = [s for listed in a for _, s in listed]
        scores_b = [s for listed in b for _, s in listed]
        return ids_a == ids_b and scores_a == pytest.approx(scores_b, abs=1e-3)

    try:
        before = lists(off)
        for _ in range(2):  # the second round is answered from the cache
            got = lists(on)
            assert same([got[key] for key in before], list(before.values()))
        # writes: every list about or listing a written article must change at once
        written = {"cuba-2", "cuba-3"}
        cuba_2 = next(a for a in small_corpus() if a.id == "cuba-2")
        for svc in (on, off):
            svc.unpublish("cuba-3")
            svc.upsert([cuba_2.model_copy(update={"title": "Cuba", "section": "Sport"})])
        touched = [
            key
            for key, listed in before.items()
            if key[0] in written or written & {i for i, _ in listed}
        ]
        assert len(touched) > 10
        got, want = lists(on), lists(off)
        assert same([got[key] for key in touched], [want[key] for key in touched])
        assert off.cache_stats().hits == 0 and on.cache_stats().hits > 0
    finally:
        on.close()
        off.close()


def test_the_cache_is_bounded_and_bound_to_an_index_generation() -> None:
    clock = [0.0]
    cache = ResultCache(size=2, ttl=10, clock=lambda: clock[0])
    lists = [RankedList(str(i), []) for i in range(3)]
    for i, ranked in enumerate(lists):
        cache.put(i, ranked, {f"a{i}"}, generation=0)
    assert cache.get(0, 0) is None and cache.get(2, 0) is lists[2]  # the oldest went
    assert cache.get(1, 1) is None  # computed from another index
    clock[0] = 11
    assert cache.get(2, 0) is None  # expired
    assert cache.stats().evicted == 1 and cache.stats().size == 0
