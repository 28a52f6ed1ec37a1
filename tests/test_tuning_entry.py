"""Tuning through its entry points: `POST /v1/admin/tune` (token, 202 + job, 409 while one
runs, status, bad options) and `recommender tune | activate-model | tuned-models` (one-line
errors, documented exit codes). The real tiny model runs end to end once through each."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from recommender.api import create_app
from recommender.cli import app
from recommender.config import Settings
from recommender.service import RecommenderService
from recommender.store import open_store
from recommender.tuning import TuneResult
from tests.factories import auth, make_settings
from tests.tuning_support import topical_corpus


def wait_for(client: TestClient, status: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get("/v1/admin/tune", headers=auth()).json()
        if job["status"] == status:
            return job
        time.sleep(0.1)
    raise AssertionError(f"tune job never reached {status}")


@pytest.fixture
def gated(settings: Settings) -> Iterator[tuple[TestClient, threading.Event, list[Any]]]:
    """A service whose tune function waits for a gate, so a second start finds it running."""
    gate = threading.Event()
    calls: list[Any] = []

    def slow_tune(settings: Settings, store: Any, config: Any, activate: bool) -> TuneResult:
        calls.append((config, activate))
        gate.wait(30)
        raise RuntimeError("no model in this test")

    service = RecommenderService(settings, tune=slow_tune)
    service.start()
    with TestClient(create_app(settings, service)) as client:
        yield client, gate, calls
    gate.set()
    service.close()


def test_tune_endpoint_needs_the_token_and_runs_one_job_at_a_time(
    gated: tuple[TestClient, threading.Event, list[Any]],
) -> None:
    client, gate, calls = gated
    assert client.post("/v1/admin/tune").status_code == 401
    assert client.get("/v1/admin/tune").status_code == 401
    assert client.get("/v1/admin/tune", headers=auth()).status_code == 404
    started = client.post("/v1/admin/tune", json={"epochs": 2, "seed": 9}, headers=auth())
    assert started.status_code == 202 and started.json()["status"] == "running"
    again = client.post("/v1/admin/tune", headers=auth())
    assert again.status_code == 409 and again.json()["error"] == "TuneInProgress"
    gate.set()
    failed = wait_for(client, "failed")
    assert failed["id"] == started.json()["id"] and "no model" in failed["error"]
    config, activate = calls[0]
    assert (config.epochs, config.seed, config.batch_size, activate) == (2, 9, 32, False)


@pytest.mark.parametrize(
    "body",
    [{"epochs": 0}, {"lr": 2}, {"device": "tpu"}, {"max_minutes": -1}, {"unknown": 1}],
)
def test_bad_tune_options_get_422(
    gated: tuple[TestClient, threading.Event, list[Any]], body: dict[str, Any]
) -> None:
    client, _, calls = gated
    response = client.post("/v1/admin/tune", json=body, headers=auth())
    assert response.status_code == 422 and {"error", "message"} <= set(response.json())
    assert not calls


def test_tune_job_through_the_api_with_a_real_model(tmp_path: Path, base_model: Path) -> None:
    settings = make_settings(tmp_path, tune_base_model=str(base_model), tune_max_tokens=64)
    service = RecommenderService(settings)
    service.start()
    service.upsert(topical_corpus(160))
    with TestClient(create_app(settings, service)) as client:
        started = client.post(
            "/v1/admin/tune", json={"max_pairs": 64, "batch_size": 16}, headers=auth()
        )
        assert started.status_code == 202
        job = wait_for(client, "succeeded")
    service.close()
    manifest = json.loads((settings.tuned_root / job["folder"] / "manifest.json").read_text())
    assert job["model_name"] == manifest["model_name"] == f"tuned:{job['folder']}"
    assert job["validation_after"] == manifest["validation"]["after"]
    assert job["pairs"] == manifest["pairs"]["trained"] and 32 <= job["pairs"] <= 64
    assert job["activated"] is False


def test_cli_bad_options_and_unknown_models_are_one_line_with_exit_2(
    env: dict[str, str], restore_logging: None
) -> None:
    runner = CliRunner()
    bad = runner.invoke(app, ["tune", "--epochs", "0", "--lr", "3"], env=env)
    assert bad.exit_code == 2
    assert bad.output.strip().splitlines() == [
        "error: bad tuning options: epochs must be >= 1; learning rate must be in (0, 1)"
    ]
    unknown = runner.invoke(app, ["activate-model", "nope"], env=env)
    assert unknown.exit_code == 2 and unknown.output.startswith("error: no tuned model 'nope'")
    empty = runner.invoke(app, ["tune", "--base", "/nowhere"], env=env)
    assert empty.exit_code == 2 and "too few articles" in empty.output


def test_cli_tunes_activates_and_lists(
    tmp_path: Path, env: dict[str, str], base_model: Path, restore_logging: None
) -> None:
    settings = make_settings(tmp_path)
    store = open_store(settings)
    store.upsert_articles(topical_corpus(200))  # the default share holds out 30 of them
    store.close()
    runner = CliRunner()
    args = ["tune", "--base", str(base_model), "--max-tokens", "64", "--batch-size", "16"]
    tuned = runner.invoke(app, [*args, "--lr", "1e-3", "--seed", "5", "--activate"], env=env)
    assert tuned.exit_code == 0, tuned.output
    assert "validation MRR" in tuned.output and "made current" in tuned.output
    version = (settings.tuned_root / "CURRENT").read_text()
    # one step at this learning rate from the tuned model wrecks it: tuned, not made current
    worse = [*args, "--base", f"tuned:{version}", "--lr", "0.5", "--max-pairs", "16"]
    refused = runner.invoke(app, [*worse, "--activate"], env=env)
    assert refused.exit_code == 3, refused.output
    assert (settings.tuned_root / "CURRENT").read_text() == version
    listed = runner.invoke(app, ["tuned-models"], env=env)
    lines = listed.output.strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith(f"* {version}")
    newest = lines[0].split()[0]
    refused = runner.invoke(app, ["activate-model", newest], env=env)
    assert refused.exit_code == 2 and "did not improve" in refused.output
    forced = runner.invoke(app, ["activate-model", newest, "--force"], env=env)
    assert forced.exit_code == 0 and (settings.tuned_root / "CURRENT").read_text() == newest
