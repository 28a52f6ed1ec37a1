"""/docs and /redoc in headless Chromium on a machine without internet: the operations render
from assets the service serves itself (FastAPI's defaults load them from a CDN, which leaves a
blank page offline)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser_support import (
    OFFLINE,
    ServerProcess,
    chromium,
    folder_env,
    get_json,
    require_browser,
    running_server,
    script_errors,
    wait_until,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    require_browser()
    root = tmp_path_factory.mktemp("docs")
    with running_server(folder_env(root, "fake"), root) as process:
        yield process


def operations(server: ServerProcess) -> int:
    spec: dict[str, Any] = get_json(server.base + "/openapi.json")
    return sum(len(methods) for methods in spec["paths"].values())


def requested(driver: Any) -> list[str]:
    names = driver.execute_script(
        "return performance.getEntriesByType('resource').map(function (e) { return e.name; })"
    )
    return [str(name) for name in names]


def hosts(urls: list[str]) -> set[str]:
    return {url.split("/")[2] for url in urls if "://" in url}


def test_swagger_ui_renders_every_operation_offline(server: ServerProcess, tmp_path: Path) -> None:
    expected = operations(server)
    with chromium(tmp_path / "profile", extra_args=OFFLINE) as driver:
        driver.get(server.base + "/docs")
        rendered = wait_until(
            lambda: driver.execute_script("return document.querySelectorAll('.opblock').length"),
            20,
            "Swagger UI's operations",
        )
        assert rendered == expected
        text = driver.execute_script("return document.body.innerText")
        assert "/v1/articles/{article_id}/related" in text
        assert script_errors(driver) == []
        assert hosts(requested(driver)) == {f"127.0.0.1:{server.port}"}


def test_redoc_renders_the_operations_offline(server: ServerProcess, tmp_path: Path) -> None:
    expected = operations(server)
    with chromium(tmp_path / "profile", extra_args=OFFLINE) as driver:
        driver.get(server.base + "/redoc")
        rendered = wait_until(
            lambda: driver.execute_script(
                "return document.querySelectorAll('[data-section-id^=\"operation/\"]').length"
            ),
            30,
            "ReDoc's operations",
        )
        assert rendered == expected
        assert script_errors(driver) == []
        # ReDoc always asks for its maker's logo in the sidebar credit; offline the image
        # fails and hides itself. Everything the page needs came from the service
        elsewhere = [u for u in requested(driver) if f"127.0.0.1:{server.port}" not in u]
        assert elsewhere in ([], ["https://cdn.redoc.ly/redoc/logo-mini.svg"])
