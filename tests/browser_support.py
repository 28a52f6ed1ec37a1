"""Helpers for the browser tests: a real `recommender serve` subprocess, a static file server, and
headless Chromium driven through Selenium."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"

# records what would reach window.onerror / an unhandled rejection, before any page script runs
ERROR_RECORDER = """
window.__errors = [];
window.addEventListener('error', function (e) {
  window.__errors.push('error: ' + (e.message || String(e.error)));
});
window.addEventListener('unhandledrejection', function (e) {
  var r = e.reason;
  window.__errors.push('unhandledrejection: ' + (r && r.message ? r.message : String(r)));
});
"""

T = TypeVar("T")

# a machine without internet: every host name fails to resolve except the local server's
OFFLINE = ("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",)


def require_browser() -> None:
    """Skip (locally) or fail (with CI set) when Chromium or its driver is missing."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if not missing:
        return
    message = (
        f"browser tests need {' and '.join(missing)}: run `bash scripts/install_browser.sh` "
        "(or `make browser`)"
    )
    if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(
    check: Callable[[], T | None], timeout: float, what: str, interval: float = 0.1
) -> T:
    """Poll check() until it returns something truthy; fail with `what` after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}", pytrace=False)
        time.sleep(interval)


def get_json(url: str, timeout: float = 10.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (local server)
        return json.loads(response.read())


def get_text(url: str, timeout: float = 10.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (local server)
        text: str = response.read().decode("utf-8")
        return text


class ServerProcess:
    """`recommender serve` in a subprocess on 127.0.0.1 and a free port."""

    def __init__(
        self,
        env: Mapping[str, str],
        workdir: Path,
        global_args: tuple[str, ...] = (),
        serve_args: tuple[str, ...] = (),
    ) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"server-{self.port}.log"
        script = Path(sys.executable).parent / "recommender"
        command = [str(script)] if script.exists() else [sys.executable, "-m", "recommender.cli"]
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                *command,
                *global_args,
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                *serve_args,
            ],
            env={**os.environ, **env},
            cwd=workdir,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, timeout: float = 60.0) -> None:
        def ready() -> bool:
            if self.process.poll() is not None:
                pytest.fail(
                    f"server exited with {self.process.returncode}:\n{self.log_tail()}",
                    pytrace=False,
                )
            try:
                status = get_json(self.base + "/health/ready", timeout=2)["status"]
                return status in ("ready", "degraded")  # degraded: serving, with a reason
            except (OSError, urllib.error.URLError, ValueError):
                return False

        wait_until(ready, timeout, f"{self.base}/health/ready", interval=0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self._log.close()


def folder_env(root: Path, model: str) -> dict[str, str]:
    """Settings of a server with its own data and models folders under root."""
    return {
        "RECOMMENDER_DATA_DIR": str(root / "var"),
        "RECOMMENDER_MODELS_DIR": str(root / "models"),
        "RECOMMENDER_MODEL_NAME": model,
    }


@contextmanager
def running_server(
    env: Mapping[str, str],
    workdir: Path,
    timeout: float = 60.0,
    global_args: tuple[str, ...] = (),
    serve_args: tuple[str, ...] = (),
) -> Iterator[ServerProcess]:
    """A ready `recommender serve`, stopped afterwards (its log stays at server.log_path)."""
    server = ServerProcess(env, workdir, global_args, serve_args)
    try:
        server.wait_ready(timeout)
        yield server
    finally:
        server.stop()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        pass


@contextmanager
def static_server(directory: Path) -> Iterator[str]:
    """Serve a folder over HTTP on 127.0.0.1 and a free port; yields the base URL."""
    handler = partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def chromium(
    profile_dir: Path, width: int = 1280, height: int = 2400, extra_args: tuple[str, ...] = ()
) -> Iterator[Any]:
    """Headless Chromium with a fresh profile, its browser log kept, and the error recorder
    installed in every document before the page's own scripts run. extra_args: more switches
    (OFFLINE: no host but this machine resolves)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile_dir}",
        f"--window-size={width},{height}",
        *extra_args,
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        driver.set_page_load_timeout(30)
        driver.set_script_timeout(10)
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": ERROR_RECORDER})
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile_dir, ignore_errors=True)


def script_errors(driver: Any) -> list[str]:
    """What the error recorder caught on the current page."""
    errors = driver.execute_script("return window.__errors === undefined ? null : window.__errors")
    assert errors is not None, "the error recorder was not installed on this page"
    return [str(e) for e in errors]


def severe_non_network(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """SEVERE browser-log entries other than failed requests (which Chromium always logs)."""
    return [e for e in log if e.get("level") == "SEVERE" and e.get("source") != "network"]


def full_page_screenshot(driver: Any, path: Path) -> None:
    """The whole document as one PNG (the CDP capture goes beyond the window)."""
    import base64

    # the document's own size, not the window's: the window may be taller than the page
    size = driver.execute_script(
        "var b = document.body; return {width: document.documentElement.clientWidth,"
        " height: Math.max(b.scrollHeight, b.offsetHeight)};"
    )
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        },
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))
