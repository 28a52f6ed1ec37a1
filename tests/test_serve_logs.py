"""`recommender serve` with the real model writes nothing but JSON lines: the model's loading
progress bar and uvicorn's own messages included (slow: loads the model)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from tests.browser_support import ServerProcess


@pytest.mark.slow
def test_serve_logs_only_json_lines_with_the_real_model(tmp_path: Path) -> None:
    env = {
        "RECOMMENDER_DATA_DIR": str(tmp_path / "var"),
        "RECOMMENDER_MODELS_DIR": str(tmp_path / "models"),
        "RECOMMENDER_MODEL_NAME": "bundled:all-MiniLM-L6-v2",
    }
    server = ServerProcess(env, tmp_path)
    try:
        server.wait_ready(timeout=120)
        request = urllib.request.Request(
            server.base + "/v1/popular", headers={"X-Request-ID": "slow-test-1"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (local)
            assert response.headers["X-Request-ID"] == "slow-test-1"
    finally:
        server.stop()
    lines = server.log_path.read_text(encoding="utf-8").splitlines()
    entries = [json.loads(line) for line in lines]  # fails on any line that is not JSON
    events = [e["event"] for e in entries]
    assert "embedder.loaded" in events and "service.started" in events
    access = [e for e in entries if e["event"] == "http.request"]
    assert any(e["request_id"] == "slow-test-1" and e["route"] == "/v1/popular" for e in access)


@pytest.mark.parametrize(
    ("global_args", "serve_args", "access_logged"),
    [
        ((), (), True),
        (("--log-level", "WARNING"), (), False),
        ((), ("--log-level", "warning"), False),
    ],
)
def test_serve_honours_the_log_level(
    tmp_path: Path,
    global_args: tuple[str, ...],
    serve_args: tuple[str, ...],
    access_logged: bool,
) -> None:
    env = {
        "RECOMMENDER_DATA_DIR": str(tmp_path / "var"),
        "RECOMMENDER_MODELS_DIR": str(tmp_path / "models"),
        "RECOMMENDER_MODEL_NAME": "fake",
    }
    server = ServerProcess(env, tmp_path, global_args=global_args, serve_args=serve_args)
    try:
        server.wait_ready(timeout=60)
    finally:
        server.stop()
    entries = [json.loads(line) for line in server.log_path.read_text().splitlines()]
    levels = {e["level"] for e in entries}
    assert any(e["event"] == "http.request" for e in entries) == access_logged
    assert ("info" in levels) == access_logged
