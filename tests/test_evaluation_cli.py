"""`recommender evaluate` and `recommender train-ranker` end to end on a tiny hand-written MIND
fixture with the fake embedder."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recommender.cli import app
from recommender.cli.common import ExitCode
from recommender.ranking.ranker_file import read_ranker_file

FIXTURE = Path(__file__).parent / "fixtures" / "mind_tiny"
ENV = {"RECOMMENDER_MODEL_NAME": "fake", "RECOMMENDER_DATA_DIR": "", "COLUMNS": "200"}


def run(tmp_path: Path, *args: str) -> object:
    env = {**ENV, "RECOMMENDER_DATA_DIR": str(tmp_path / "var")}
    return CliRunner().invoke(
        app,
        [
            *args,
            "--news",
            str(FIXTURE / "news.tsv"),
            "--behaviors",
            str(FIXTURE / "behaviors.tsv"),
            "--cache",
            str(tmp_path / "cache.db"),
            "--seed",
            "3",
            "--test-fraction",
            "0.4",
        ],
        env=env,
    )


def test_evaluate_writes_a_deterministic_report(tmp_path: Path) -> None:
    first = run(tmp_path, "evaluate", "--out", str(tmp_path / "a"))
    assert first.exit_code == 0, first.output  # type: ignore[attr-defined]
    second = run(tmp_path, "evaluate", "--out", str(tmp_path / "b"))
    assert second.exit_code == 0, second.output  # type: ignore[attr-defined]
    for name in ("report.md", "metrics.json", "frontier.png", "metrics_by_variant.png"):
        assert (tmp_path / "a" / name).stat().st_size > 0
    report = (tmp_path / "a" / "report.md").read_text()
    assert "★ learned" in report and "| random |" in report
    a = json.loads((tmp_path / "a" / "metrics.json").read_text())
    b = json.loads((tmp_path / "b" / "metrics.json").read_text())
    for key in ("lees_ook", "impressions", "weights", "half_life_hours", "acceptance"):
        assert a[key] == b[key], key
    # the broken last line of the fixture is counted, not fatal
    assert a["data"]["rejected_behaviors"] == 1
    assert a["data"]["history_clicks_with_text"] < a["data"]["history_clicks"]
    assert set(a["lees_ook"]) >= {"random", "popularity", "tfidf", "embeddings", "learned"}
    assert a["lees_ook"]["learned -mmr"]["pairs"] > 0


def test_train_ranker_writes_weights_the_service_can_use(tmp_path: Path) -> None:
    target = tmp_path / "ranker.json"
    result = run(tmp_path, "train-ranker", "--output", str(target))
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    document = json.loads(target.read_text())
    assert not document["weights"].keys() & {"tag_overlap", "entity_overlap"}  # truth only
    assert document["features"] and document["data"]["fingerprint"]
    assert document["train_metrics"]["ndcg@5"] >= 0
    weights = read_ranker_file(target).weights
    assert weights is not None
    assert weights.source == str(target) and weights.values == document["weights"]


def test_evaluate_without_data_fails_cleanly(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["evaluate", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "r")],
        env={**ENV, "RECOMMENDER_DATA_DIR": str(tmp_path / "var")},
    )
    assert result.exit_code == 2
    assert "no such file" in result.output


@pytest.mark.parametrize("fraction", ["0", "1.5"])
def test_evaluate_rejects_a_bad_test_fraction(tmp_path: Path, fraction: str) -> None:
    result = CliRunner().invoke(app, ["evaluate", "--test-fraction", fraction], env=ENV)
    assert result.exit_code == 2


def test_evaluate_without_plotting_says_which_extra_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # as on an install without the `report` extra: importing matplotlib fails
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    result = run(tmp_path, "evaluate", "--out", str(tmp_path / "r"))
    assert result.exit_code == ExitCode.USAGE_ERROR  # type: ignore[attr-defined]
    assert result.stderr.strip().splitlines() == [  # type: ignore[attr-defined]
        "error: evaluate writes its plots with matplotlib, which is not installed: "
        "pip install 'recommender[report]'"
    ]
    assert not (tmp_path / "r").exists()


def test_without_data_paths_evaluation_asks_for_them(tmp_path: Path) -> None:
    env = {**ENV, "RECOMMENDER_DATA_DIR": str(tmp_path / "var")}
    for command in ("evaluate", "train-ranker"):
        result = CliRunner().invoke(app, [command], env=env)
        assert result.exit_code == ExitCode.USAGE_ERROR
        assert "RECOMMENDER_EVAL_DATA_DIR" in result.output and "--data" in result.output


def test_paths_come_from_settings_and_the_served_ranker_needs_install(tmp_path: Path) -> None:
    env = {
        **ENV,
        "RECOMMENDER_DATA_DIR": str(tmp_path / "var"),
        "RECOMMENDER_EVAL_DATA_DIR": str(FIXTURE),
        "RECOMMENDER_REPORTS_DIR": str(tmp_path / "reports"),
        "RECOMMENDER_MODELS_DIR": str(tmp_path / "models"),
    }
    quick = ["--quick", "--seed", "3", "--test-fraction", "0.4"]
    trained = CliRunner().invoke(app, ["train-ranker", *quick], env=env)
    assert trained.exit_code == 0, trained.output
    assert (tmp_path / "reports" / "ranker.json").is_file()
    assert (tmp_path / "var" / "eval-cache.db").is_file()
    assert not (tmp_path / "models" / "ranker.json").exists()  # the served one is untouched
    installed = CliRunner().invoke(app, ["train-ranker", "--install", *quick], env=env)
    assert installed.exit_code == 0, installed.output
    assert read_ranker_file(tmp_path / "models" / "ranker.json").weights is not None
    both = CliRunner().invoke(app, ["train-ranker", "--install", "--output", "x.json"], env=env)
    assert both.exit_code == ExitCode.USAGE_ERROR
