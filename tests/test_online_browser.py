"""The editors' dashboard in a real browser: `recommender serve` with two ranking variants, real
reader traffic over HTTP, then /dashboard opened in headless Chromium with basic auth. The
screenshot lands in test-artifacts/dashboard.png."""

from __future__ import annotations

import base64
import json
import random
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser_support import (
    ARTIFACTS,
    ServerProcess,
    chromium,
    full_page_screenshot,
    require_browser,
    script_errors,
    wait_until,
)
from tests.factories import TOKEN, small_corpus

pytestmark = pytest.mark.browser

SCREENSHOT = ARTIFACTS / "dashboard.png"


def call(base: str, path: str, body: Any = None, method: str = "GET") -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    request.add_header("Authorization", f"Bearer {TOKEN}")
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (local server)
        return json.loads(response.read())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    require_browser()
    root = tmp_path_factory.mktemp("dashboard")
    env = {
        "RECOMMENDER_DATA_DIR": str(root / "var"),
        "RECOMMENDER_MODELS_DIR": str(root / "models"),
        "RECOMMENDER_MODEL_NAME": "fake",
        "RECOMMENDER_API_TOKEN": TOKEN,
        "RECOMMENDER_VARIANTS": '[{"name": "A", "share": 1}, {"name": "B", "share": 1}]',
        "RECOMMENDER_SERVED_LOG_FLUSH_SECONDS": "0.2",
    }
    process = ServerProcess(env, root)
    try:
        process.wait_ready()
        articles = [json.loads(a.model_dump_json()) for a in small_corpus()]
        call(process.base, "/v1/articles", {"articles": articles}, "POST")
        yield process
    finally:
        process.stop()


def test_dashboard_renders_tiles_and_charts_without_network(server: ServerProcess) -> None:
    rng = random.Random(5)
    events = []
    for reader in range(80):
        article = rng.choice([a.id for a in small_corpus()])
        answer = call(server.base, f"/v1/articles/{article}/related?session_id=r{reader}")
        rid = answer["recommendation_id"]
        events.append({"type": "impression", "article_id": article, "recommendation_id": rid})
        if rng.random() < 0.4:
            item = answer["items"][0]["id"]
            events.append(
                {"type": "click", "article_id": item, "recommendation_id": rid, "position": 0}
            )
        call(server.base, f"/v1/popular?context={article}&session_id=r{reader}")
    call(server.base, "/v1/events", {"events": events}, "POST")

    login = base64.b64encode(f"editor:{TOKEN}".encode()).decode()
    with chromium(ARTIFACTS / "profile-dashboard", height=1600) as driver:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd(
            "Network.setExtraHTTPHeaders", {"headers": {"Authorization": f"Basic {login}"}}
        )
        driver.get(server.base + "/dashboard")
        full_page_screenshot(driver, SCREENSHOT)
        text = driver.find_element("tag name", "body").text
        assert "Recommendations: what works" in text
        assert "Lees ook CTR" in text and "Populair nieuws CTR" in text
        assert "of 80 seen" in text  # every reader's Lees-ook view was joined to its list
        assert len(driver.find_elements("tag name", "svg")) >= 6  # 3 charts per block
        assert "Populair now: decayed" in text
        assert script_errors(driver) == []
        # nothing but the page itself was requested (the icon is inline): no third-party assets
        requested = driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)"
        )
        assert requested == []
    assert SCREENSHOT.stat().st_size > 10_000


def test_widget_keeps_a_reader_in_one_variant_without_a_reader_id(server: ServerProcess) -> None:
    """The first list's variant is asked for again on later pages of the session: sticky per
    reader, while list URLs carry no session id (cacheable, nothing personal)."""
    with chromium(ARTIFACTS / "profile-variant", height=1200) as driver:
        driver.get(server.base + "/demo/cuba-1")
        wait_until(
            lambda: driver.execute_script("return sessionStorage.getItem('rec_variant')"),
            20,
            "the widget remembering its variant",
        )
        variant = driver.execute_script("return sessionStorage.getItem('rec_variant')")
        assert variant in {"A", "B"}
        for page in ("storm-1", "sport-2"):
            driver.get(server.base + f"/demo/{page}")
            wait_until(
                lambda: any(
                    "/popular?" in url
                    for url in driver.execute_script(
                        "return performance.getEntriesByType('resource').map(e => e.name)"
                    )
                ),
                20,
                "the widget's lists",
            )
            urls = driver.execute_script(
                "return performance.getEntriesByType('resource').map(e => e.name)"
            )
            lists = [u for u in urls if "/related" in u or "/popular?" in u]
            assert lists and all(f"variant={variant}" in u for u in lists), lists
            assert not any("session" in u for u in lists)
            assert script_errors(driver) == []
