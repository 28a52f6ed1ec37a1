from __future__ import annotations

import time
from pathlib import Path

from recommender.articles import Article
from recommender.catalog import Card
from recommender.events import Event
from recommender.ranking import Weights
from recommender.ranking.ranker_file import read_ranker_file, served_half_life
from recommender.service import RecommenderService
from tests.factories import NOW, article, make_settings, small_corpus

CUBA = {"cuba-2", "cuba-3", "cuba-4", "cuba-5"}


def ids(ranked: object) -> list[str]:
    return [item.card.id for item in ranked.items]  # type: ignore[attr-defined]


def test_related_returns_the_same_story_without_itself_or_its_copy(
    service: RecommenderService,
) -> None:
    ranked = service.related("cuba-1", 4)
    assert set(ids(ranked)) == CUBA
    assert not ranked.fallback


def test_related_applies_filters(service: RecommenderService) -> None:
    assert "cuba-2" not in ids(service.related("cuba-1", 4, section="Buitenland"))
    assert "cuba-3" not in ids(service.related("cuba-1", 4, exclude={"cuba-3"}))
    service.upsert(
        [
            article(
                "cuba-old",
                "Oud Cuba nieuws",
                "Havana Cuba Cubaanse regering embargo",
                published_at=NOW.replace(year=NOW.year - 2),
            )
        ]
    )
    assert "cuba-old" not in ids(service.related("cuba-1", 10, max_age_days=30))
    assert "cuba-old" in ids(service.related("cuba-1", 10))


def test_related_fills_from_popular_when_too_few_candidates(tmp_path: Path) -> None:
    # two candidates: the article itself and its copy, both filtered, so all four come from popular
    # no popular, lexical or co-read candidates either: with them, storm-1 would be ranked
    service = RecommenderService(
        make_settings(
            tmp_path,
            candidates=1,
            popular_candidates=0,
            lexical_candidates=0,
            coread_candidates=0,
        )
    )
    service.start()
    service.upsert(small_corpus())
    now = time.time()
    service.record_events(
        [Event(now, "click", "storm-1", "s1"), Event(now, "click", "storm-1", "s2")]
    )
    ranked = service.related("cuba-1", 4)
    assert len(ranked.items) == 4 and not ranked.fallback
    assert ids(ranked)[0] == "storm-1"
    assert all(item.reasons.get("filled_from") == "popular" for item in ranked.items)
    assert "cuba-1" not in ids(ranked)
    service.close()


def test_unknown_article_falls_back_to_popular(service: RecommenderService) -> None:
    service.record_events([Event(time.time(), "click", "sport-2", "s1")])
    ranked = service.related("does-not-exist", 3)
    assert ranked.fallback and ids(ranked)[0] == "sport-2" and len(ranked.items) == 3


def test_unpublished_and_deleted_articles_leave_the_lists_at_once(
    service: RecommenderService,
) -> None:
    service.unpublish("cuba-2")
    assert "cuba-2" not in ids(service.related("cuba-1", 10))
    service.upsert([article("cuba-3", "Cuba verpacht land", "Cuba", status="unpublished")])
    assert "cuba-3" not in ids(service.related("cuba-1", 10))


def test_mmr_keeps_two_copies_of_one_story_apart(service: RecommenderService) -> None:
    # querying the storm story: its near-identical siblings must not both crowd the list
    ranked = service.related("sport-1", 2)
    assert len(set(ids(ranked))) == 2


def test_popular_orders_by_decayed_clicks_and_respects_context(service: RecommenderService) -> None:
    now = time.time()
    events = [Event(now, "click", "storm-1", f"a{i}") for i in range(5)]
    events += [Event(now, "click", "cuba-2", f"b{i}") for i in range(4)]
    events += [Event(now, "click", "sport-1", f"c{i}") for i in range(3)]
    service.record_events(events)
    assert ids(service.popular(3))[:3] == ["storm-1", "cuba-2", "sport-1"]
    with_context = ids(service.popular(3, context="cuba-1"))
    related = set(ids(service.related("cuba-1", 4)))
    assert "cuba-1" not in with_context and not related & set(with_context)
    assert ids(service.popular(1, section="Sport")) == ["sport-1"]


def test_popular_drops_a_second_item_about_the_same_event(service: RecommenderService) -> None:
    now = time.time()
    service.record_events([Event(now, "click", "cuba-1", f"a{i}") for i in range(5)])
    service.record_events([Event(now, "click", "cuba-1-copy", f"b{i}") for i in range(4)])
    top = ids(service.popular(3))
    assert top[0] == "cuba-1" and "cuba-1-copy" not in top


def test_explanations_sum_to_the_score(service: RecommenderService) -> None:
    item = service.related("cuba-1", 1).items[0]
    learned = read_ranker_file(service.settings.resolved_ranker_path).weights
    weights = learned.values if learned else service.settings.default_weights()
    parts = sum(weights.get(k, 0.0) * v for k, v in item.reasons.items() if k in weights)
    assert abs(parts - item.score) < 1e-9 and item.reasons["total"] == item.score


def test_new_article_is_recommendable_without_rebuild(service: RecommenderService) -> None:
    new = Article.model_validate(
        {
            "id": "cuba-new",
            "title": "Cuba sluit hotels",
            "text": "Havana Cuba Cubaanse regering embargo toerisme hotels",
            "section": "Buitenland",
            "published_at": NOW,
        }
    )
    service.upsert([new])
    assert "cuba-new" in ids(service.related("cuba-1", 5))


def test_weights_without_entities_apply_to_articles_without_entity_tags(tmp_path: Path) -> None:
    path = tmp_path / "ranker.json"
    path.write_text(
        '{"weights": {"similarity": 0.2, "popularity": 0.6, "entity_overlap": 0.5},'
        ' "weights_without_entities": {"similarity": 1.0, "popularity": 0.2}}'
    )
    weights = read_ranker_file(path).weights
    assert weights is not None
    tagged = Card("a", "t", None, None, None, None, True, entities=("Q241",))
    untagged = Card("b", "t", None, None, None, None, True)
    assert weights.for_query(tagged)["popularity"] == 0.6
    assert weights.for_query(untagged) == {"similarity": 1.0, "popularity": 0.2}
    features = {"similarity": 1.0, "popularity": 1.0}
    assert weights.score(features, weights.for_query(untagged)) == 1.2
    assert Weights({"x": 1.0}).for_query(untagged) == {"x": 1.0}  # no second blend: the one


def test_learned_popularity_weight_does_not_swamp_an_untagged_corpus(tmp_path: Path) -> None:
    # a blend learned where entity overlap carries topicality, with its entity-free counterpart
    path = tmp_path / "ranker.json"
    path.write_text(
        '{"weights": {"similarity": 0.1, "popularity": 0.9, "entity_overlap": 0.5},'
        ' "weights_without_entities": {"similarity": 1.0, "popularity": 0.2}}'
    )
    service = RecommenderService(make_settings(tmp_path, ranker_path=path))
    service.start()
    service.upsert(small_corpus())
    now = time.time()
    service.record_events([Event(now, "click", "storm-1", f"s{i}") for i in range(20)])
    assert set(ids(service.related("cuba-1", 4))) == CUBA
    service.close()


def test_half_life_comes_from_the_ranker_unless_set_explicitly(tmp_path: Path) -> None:
    path = tmp_path / "ranker.json"
    path.write_text('{"weights": {"similarity": 1.0}, "popularity_half_life_hours": 1.0}')
    assert served_half_life(make_settings(tmp_path, ranker_path=path)) == 1.0
    assert served_half_life(make_settings(tmp_path, ranker_path=path, half_life_hours=3.0)) == 3.0
    assert served_half_life(make_settings(tmp_path, ranker_path=tmp_path / "none.json")) == 6.0
