"""The primary comparison on the tiny MIND fixture: it cannot leak (no event of a truth user
reaches popularity or co-reads; tags never weigh in) and it reports every variant."""

from __future__ import annotations

from pathlib import Path

import pytest

from recommender.config import Settings
from recommender.coreads import CoReads
from recommender.evaluation.primary_run import run_primary
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
