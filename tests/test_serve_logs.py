"""`recommender serve` writes nothing but JSON lines: the model's loading progress bar and
uvicorn's own messages included (slow: loads the real model); and honours --log-level."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from tests.browser_support import folder_env, running_server


def log_entries(path: Path) -> list[dict[str, object]]:
    # json.loads fails on any line that is not JSON, a progress bar's included
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.slow
def test_serve_logs_only_json_lines_with_the_real_model(tmp_path: Path) -> None:
    env = folder_env(tmp_path, "bundled:all-MiniLM-L6-v2")
    with running_server(env, tmp_path, timeout=120) as server:
        request = urllib.request.Request(
            server.base + "/v1/popular", headers={"X-Request-ID": "slow-test-1"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (local)
            assert response.headers["X-Request-ID"] == "slow-test-1"
    entries = log_entries(server.log_path)
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
    env = folder_env(tmp_path, "fake")
    with running_server(env, tmp_path, global_args=global_args, serve_args=serve_args) as server:
        pass  # wait_ready's own /health/ready requests are what gets logged
    entries = log_entries(server.log_path)
    assert any(e["event"] == "http.request" for e in entries) == access_logged
    assert any(e["level"] == "info" for e in entries) == access_logged
