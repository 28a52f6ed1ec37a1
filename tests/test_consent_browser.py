"""The widget on a page that needs consent (data-consent="required"): lists show, but no session
id is created and no event is sent until the page calls RecommenderWidget.consent()."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest

from recommender.store import SqliteStore
from tests.browser_support import (
    ARTIFACTS,
    ServerProcess,
    chromium,
    require_browser,
    script_errors,
    static_server,
    wait_until,
)
from tests.factories import TOKEN, small_corpus

pytestmark = pytest.mark.browser

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>consent</title></head><body>
<div class="rec-widget" data-article-id="cuba-1" data-consent="required"></div>
<script src="{base}/widget.js"></script></body></html>"""


def count_events(db_path: Path) -> int:
    store = SqliteStore(db_path)
    try:
        return store.count_events()
    finally:
        store.close()


def test_no_session_and_no_event_before_consent(tmp_path: Path) -> None:
    require_browser()
    env = {
        "RECOMMENDER_DATA_DIR": str(tmp_path / "var"),
        "RECOMMENDER_MODELS_DIR": str(tmp_path / "models"),
        "RECOMMENDER_MODEL_NAME": "fake",
        "RECOMMENDER_API_TOKEN": TOKEN,
    }
    server = ServerProcess(env, tmp_path)
    try:
        server.wait_ready()
        body = json.dumps({"articles": [json.loads(a.model_dump_json()) for a in small_corpus()]})
        request = urllib.request.Request(
            server.base + "/v1/articles", data=body.encode(), method="POST"
        )
        request.add_header("Content-Type", "application/json")
        request.add_header("Authorization", f"Bearer {TOKEN}")
        urllib.request.urlopen(request, timeout=30).close()  # noqa: S310 (local server)
        site = tmp_path / "site"
        site.mkdir()
        (site / "index.html").write_text(PAGE.format(base=server.base))
        db_path = tmp_path / "var" / "recommender.db"
        with static_server(site) as origin, chromium(ARTIFACTS / "profile-consent") as driver:
            driver.get(origin + "/index.html")
            wait_until(
                lambda: driver.execute_script(
                    "return document.querySelectorAll('.rec-widget li.rec-item').length"
                ),
                20,
                "the widget's lists",
            )
            driver.execute_script("window.scrollTo(0, document.body.scrollHeight)")

            time.sleep(1.0)  # what the widget would have sent by now, it would have sent
            assert driver.execute_script("return sessionStorage.getItem('rec_session_id')") is None
            assert count_events(db_path) == 0
            driver.execute_script("window.RecommenderWidget.consent()")
            wait_until(lambda: count_events(db_path), 20, "the view event after consent")
            assert driver.execute_script("return sessionStorage.getItem('rec_session_id')")
            assert script_errors(driver) == []
    finally:
        server.stop()
