"""The primary comparison on the tiny MIND fixture: it cannot leak (no event of a truth user
reaches popularity or co-reads; tags never weigh in) and it reports every variant."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from recommender.config import Settings
from recommender.coreads import CoReads
from recommender.evaluation.primary_run import run_primary
from recommender.evaluation.primary_training import (
    LIFTS,
    SCALES,
    SHARES,
    choose,
    lower_ratio,
    resamples,
)
from recommender.evaluation.setup import EvalOptions, prepare
from recommender.events import Event
from recommender.popularity import Popularity

FIXTURE = Path(__file__).parent / "fixtures" / "mind_tiny"


def options(tmp_path: Path) -> EvalOptions:
    return EvalOptions(
        news=FIXTURE / "news.tsv",
        behaviors=FIXTURE / "behaviors.tsv",
        seed=3,
        test_fraction=0.4,
        cache_path=tmp_path / "cache.db",
    )


def test_events_of_truth_users_never_reach_the_features(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(model_name="fake", data_dir=tmp_path / "var")
    prep = prepare(options(tmp_path), settings, None)
    fed: list[str | None] = []
    for cls in (Popularity, CoReads):
        original = cls.record

        def spy(self: object, event: Event, original: object = original) -> bool:
            fed.append(event.session_id)
            return original(self, event)  # type: ignore[operator, no-any-return]

        monkeypatch.setattr(cls, "record", spy)
    primary = run_primary(prep, options(tmp_path), 6.0, None)
    assert fed, "nothing was counted: the spy would not see a leak"
    assert not set(fed) & prep.test
    assert primary["test_queries"] > 0
    for weights in primary["weights"].values():
        assert not weights.keys() & {"tag_overlap", "entity_overlap"}
    assert "learned" in primary["variants"] and primary["frontier"]
    assert any(name.startswith("grid ") for name in primary["variants"])


def test_the_lower_bound_of_the_entity_ratio_reflects_sampling_noise() -> None:
    rng = np.random.default_rng(0)
    reference = (rng.integers(0, 6, size=400) / 5).tolist()  # entity P@5 of 400 queries
    assert lower_ratio(reference, reference, resamples(400, 1)) == pytest.approx(1.0)
    # the same mean ratio (1.0) with noise around it: vouched for only below 1
    shuffled = rng.permutation(reference).tolist()
    noisy = lower_ratio(shuffled, reference, resamples(400, 1))
    assert 0.85 < noisy < 0.97
    # four times the queries: half the noise, a bound closer to the mean
    many = reference * 4
    tighter = lower_ratio(rng.permutation(many).tolist(), many, resamples(1600, 1))
    assert noisy < tighter < 1.0
    assert math.isnan(lower_ratio([], [], resamples(0, 1)))


def test_the_shipped_row_keeps_the_entity_floor_with_confidence_not_on_average() -> None:
    table = {
        # more next clicks and a mean ratio over the floor, but not one the queries vouch for
        "clears on average": {"ndcg@5": 0.04, "entity_p@5": 0.25, "entity_ratio_lower": 0.93},
        "clears with confidence": {"ndcg@5": 0.03, "entity_p@5": 0.26, "entity_ratio_lower": 0.96},
        "most topical": {"ndcg@5": 0.01, "entity_p@5": 0.28, "entity_ratio_lower": 1.01},
    }
    assert choose(table) == "clears with confidence"
    for row in table.values():
        row["entity_ratio_lower"] = 0.5
    assert choose(table) == "most topical"  # nothing keeps the floor: the most topical row


def test_the_selection_table_records_each_rows_lower_bound(tmp_path: Path) -> None:
    settings = Settings(model_name="fake", data_dir=tmp_path / "var")
    prep = prepare(options(tmp_path), settings, None)
    training = run_primary(prep, options(tmp_path), 6.0, None)["training"]
    rows = training["selection_train"]
    assert len(rows) == len(SHARES) * len(LIFTS) * len(SCALES)
    assert all("entity_ratio_lower" in row for row in rows.values())
    chosen = rows[training["chosen"]]
    assert chosen["chosen"]
    assert choose(rows) == training["chosen"]
