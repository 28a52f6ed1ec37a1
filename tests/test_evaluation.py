"""Evaluation protocols on tiny hand-made logs with the fake embedder."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from recommender.articles import Article
from recommender.config import PopularityConfig, RankingParams
from recommender.embedding import FakeEmbedder
from recommender.evaluation.data import (
    Impression,
    MindData,
    click_events,
    next_click_pairs,
    split_users,
)
from recommender.evaluation.impressions import impression_scores, popularity_scorer
from recommender.evaluation.protocols import Replay, Variant, build_world, evaluate_lees_ook
from recommender.evaluation.training import TrainingSet, fit_weights, training_rows
from recommender.events import Event
from recommender.lexical import LexicalSearch
from recommender.popularity import Popularity
from recommender.ranking import FEATURES
from recommender.store import SqliteStore as Store

T = 1_573_000_000.0  # a moment in November 2019


def art(article_id: str, title: str, entities: tuple[str, ...] = (), tag: str = "x") -> Article:
    return Article(id=article_id, title=title, section="news", tags=[tag], entities=list(entities))


ARTICLES = [
    art("A", "Havana blackout hits Cuba grid", ("Q241",), "world"),
    art("B", "Cuba fuel prices rise in Havana", ("Q241",), "world"),
    art("C", "Cuba embargo vote at the United Nations", ("Q241", "Q1"), "world"),
    art("D", "Rotterdam football coach sacked", ("Q5",), "soccer"),
    art("E", "Rotterdam football club wins derby", ("Q5",), "soccer"),
    art("F", "Storm floods coastal dikes", (), "weather"),
]


def imp(iid: str, user: str, ts: float, history: str, shown: str) -> Impression:
    ids = [t.rsplit("-", 1)[0] for t in shown.split()]
    labels = [int(t.rsplit("-", 1)[1]) for t in shown.split()]
    return Impression(iid, user, ts, tuple(history.split()), tuple(ids), tuple(labels))


def data(impressions: list[Impression]) -> MindData:
    return MindData(list(ARTICLES), impressions, "test")


def test_split_is_deterministic_and_disjoint() -> None:
    users = [f"U{i}" for i in range(1_000)]
    train, test = split_users(users, 0.3, seed=7)
    assert (train, test) == split_users(reversed(users), 0.3, seed=7)
    assert not train & test and len(train | test) == 1_000
    assert 230 < len(test) < 370
    assert split_users(users, 0.3, seed=8)[1] != test
    # a user's side does not depend on who else is in the log
    assert split_users(users[:10], 0.3, seed=7)[1] == test & set(users[:10])


def test_next_click_pairs_skip_and_count_ids_without_text() -> None:
    d = data(
        [
            imp("1", "U1", T, "A N1 B N2 N3 C", "D-1 N9-1 E-0"),
            imp("2", "U1", T + 60, "A N1 B N2 N3 C", "N8-1"),
            imp("3", "U2", T, "N4", "E-1"),
        ]
    )
    pairs, stats = next_click_pairs(d, {"U1", "U2"}, {a.id for a in ARTICLES})
    got = [(p.query, p.target, p.source, p.adjacent) for p in pairs]
    assert got == [
        ("A", "B", "history", False),
        ("B", "C", "history", False),
        ("C", "D", "impression", True),
    ]
    # history: N1, N2, N3 (U1) and N4 (U2); impressions: N9, N8 (unknown) and E (U2 has no
    # read with text to be the query)
    assert stats["reads_without_text_skipped"] == 4 + 3
    assert stats["pairs_adjacent"] == 1
    assert all(p.ts == T for p in pairs if p.source == "history")


def test_click_events_come_only_from_the_given_users_and_in_time_order() -> None:
    d = data([imp("1", "U1", T + 10, "A", "B-1 C-0"), imp("2", "U2", T, "D", "E-1")])
    events = click_events(d, {"U1"})
    assert [(e.article_id, e.ts) for e in events] == [("A", T - 1), ("B", T + 10)]


def test_popularity_at_a_moment_ignores_later_events() -> None:
    events = [Event(T, "click", "X", "u1"), Event(T + 200, "click", "Y", "u2")]
    for i in range(5):
        events.append(Event(T + 300 + i, "click", "Y", f"v{i}"))
    # at T+100 only X has been clicked: Y, the clicked item, must rank below X
    impressions = [imp("1", "U9", T + 100, "", "X-0 Y-1")]
    popularity = Popularity(PopularityConfig(half_life_hours=6.0))
    scores = impression_scores(
        impressions, events, {"decayed": (popularity, popularity_scorer("decayed"))}, seed=1
    )
    assert scores["decayed"]["auc"] == 0.0
    # the replay stopped before the impression: later events are not in the counters yet
    assert popularity.alltime.value("Y", T + 100) == 0.0


def test_replay_feeds_events_strictly_before_the_moment() -> None:
    popularity = Popularity(PopularityConfig())
    replay = Replay([Event(T + 5, "click", "A", "s"), Event(T, "click", "B", "s")], [popularity])
    replay.advance(T + 5)
    assert popularity.alltime.value("B", T) == 1.0
    assert popularity.alltime.value("A", T + 5) == 0.0


def test_impression_without_click_is_skipped() -> None:
    popularity = Popularity(PopularityConfig())
    result = impression_scores(
        [imp("1", "U1", T, "", "A-0 B-0")],
        [],
        {"p": (popularity, popularity_scorer("decayed"))},
        seed=1,
    )
    assert result["p"]["impressions"] == 0.0
    assert math.isnan(result["p"]["auc"])


def world(tmp_path: Path, params: RankingParams | None = None) -> object:
    store = Store(tmp_path / "cache.db", "NORMAL")
    built = build_world(ARTICLES, store, FakeEmbedder(), params or RankingParams(), 200)
    store.close()
    return built


def test_lees_ook_protocol_scores_topical_lists(tmp_path: Path) -> None:
    built = world(tmp_path)
    d = data([imp("1", "U1", T, "A B", "C-1")])
    pairs, _ = next_click_pairs(d, {"U1"}, {a.id for a in ARTICLES})
    variants = [
        Variant("embeddings", "blend", {"similarity": 1.0}),
        Variant("entities", "blend", {"entity_overlap": 1.0}, use_mmr=False),
        Variant("random", "random", family="baseline"),
    ]
    result = evaluate_lees_ook(
        built,  # type: ignore[arg-type]
        pairs,
        [],
        PopularityConfig(),
        variants,
        3,
        {},
        T,
    )
    assert result["entities"]["entity_p@4"] == pytest.approx(2 / 4)  # A and B: two Cuba mates
    assert result["entities"]["recall@10"] == 1.0
    assert result["entities"]["older_than_log"] == 1.0
    assert result["random"]["pairs"] == 2.0


def test_training_rows_use_the_rankers_features_and_add_a_missed_target(tmp_path: Path) -> None:
    from recommender.evaluation.protocols import World

    built = world(tmp_path, RankingParams(candidates=1))
    assert isinstance(built, World)
    ranker = built.ranker(Popularity(PopularityConfig()), Variant("v", "blend", lexical=True))
    rows = training_rows(ranker, [("A", "F", T), ("Z", "A", T)])
    assert rows.unknown_query == 1 and rows.queries == 1 and rows.target_not_in_candidates == 1
    assert rows.x.shape[1] == len(FEATURES) and rows.y.sum() == 1


def test_fit_weights_scales_to_unit_l1() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((400, len(FEATURES)))
    y = (x[:, FEATURES.index("popularity")] > 0.7).astype(int)
    weights = fit_weights(TrainingSet(x, y, 40, 0, 0), ["similarity", "popularity"], seed=1)
    assert sum(abs(w) for w in weights.values()) == pytest.approx(1.0, abs=1e-4)
    assert weights["popularity"] > abs(weights["similarity"])


def test_lexical_neighbours_share_words() -> None:
    lexical = LexicalSearch(use_tags=False)
    lexical.upsert([a.model_copy(update={"language": "en"}) for a in ARTICLES])
    assert lexical.neighbours("D", 1)[0][0] == "E"
    sims = lexical.similarities("A", ["B", "F", "unknown"])
    assert sims[0] > sims[1] and sims[2] == 0.0
