"""The gated blend (ranking.weights.Gate): popularity and co-reads only lift candidates whose
relevance passes the gate, so clicks alone never buy a place in Lees ook."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from recommender.events import Event
from recommender.ranking import FEATURES, Weights
from recommender.ranking.features import explanation
from recommender.ranking.ranker_file import read_ranker_file, write_ranker_file
from recommender.ranking.weights import Gate
from recommender.service import RecommenderService
from tests.factories import make_settings, small_corpus

RELEVANCE = ("similarity", "lexical", "name_overlap")
CUBA = {"cuba-2", "cuba-3", "cuba-4", "cuba-5"}


def row(**values: float) -> list[float]:
    return [values.get(name, 0.0) for name in FEATURES]


def test_behaviour_lifts_only_candidates_past_the_gate() -> None:
    matrix = np.array(
        [
            row(similarity=1.0, name_overlap=1.0),  # relevance 2: the best
            row(similarity=0.6, popularity=1.0),  # 0.6 >= 0.25 x 2: lifted
            row(similarity=0.2, popularity=1.0),  # 0.2 < 0.5: not lifted
        ]
    )
    values = {"similarity": 1.0, "name_overlap": 1.0, "popularity": 3.0}
    gated = Weights(values, gate=Gate(RELEVANCE, 0.25))
    scores, passes = gated.scores(matrix, values)
    assert passes is not None and passes.tolist() == [True, True, False]
    assert scores.tolist() == pytest.approx([2.0, 3.6, 0.2])
    plain, none = Weights(values).scores(matrix, values)
    assert none is None and plain.tolist() == pytest.approx([2.0, 3.6, 3.2])


def test_explanation_of_a_gated_candidate_sums_to_its_score() -> None:
    matrix = np.array([row(similarity=1.0), row(similarity=0.1, popularity=1.0)])
    values = {"similarity": 1.0, "popularity": 2.0}
    weights = Weights(values, gate=Gate(RELEVANCE, 0.5))
    scores, passes = weights.scores(matrix, values)
    assert passes is not None
    for i in range(2):
        reasons = explanation(matrix[i], weights.applied(values, bool(passes[i])), scores[i])
        contributions = reasons["contributions"]
        assert isinstance(contributions, dict)
        assert sum(contributions.values()) == pytest.approx(scores[i])
    below = explanation(matrix[1], weights.applied(values, False), 0.1)["contributions"]
    assert isinstance(below, dict) and "popularity" not in below


def test_the_ranker_file_keeps_the_gate(tmp_path: Path) -> None:
    path = tmp_path / "ranker.json"
    write_ranker_file(path, Weights({"similarity": 1.0}, gate=Gate(RELEVANCE, 0.3)), 2.0, {})
    read = read_ranker_file(path)
    assert read.weights is not None and read.weights.gate == Gate(RELEVANCE, 0.3)
    document = json.loads(path.read_text())
    document["gate"]["share"] = 3.0  # not a share: the file's weights are unusable
    path.write_text(json.dumps(document))
    assert read_ranker_file(path).weights is None


@pytest.mark.parametrize(("gate", "popular_listed"), [(None, True), (0.5, False)])
def test_a_popular_unrelated_story_needs_the_gate_to_stay_out(
    tmp_path: Path, gate: float | None, popular_listed: bool
) -> None:
    document: dict[str, object] = {
        "weights": {"similarity": 1.0, "lexical": 0.5, "name_overlap": 1.0, "popularity": 3.0}
    }
    if gate is not None:
        document["gate"] = {"relevance": list(RELEVANCE), "share": gate}
    path = tmp_path / "ranker.json"
    path.write_text(json.dumps(document))
    service = RecommenderService(make_settings(tmp_path, ranker_path=path))
    service.start()
    try:
        service.upsert(small_corpus())
        now = time.time()
        service.record_events([Event(now, "click", "storm-1", f"s{i}") for i in range(20)])
        listed = [item.card.id for item in service.related("cuba-1", 4).items]
        assert ("storm-1" in listed) is popular_listed
        if gate is not None:
            assert set(listed) == CUBA
    finally:
        service.close()
