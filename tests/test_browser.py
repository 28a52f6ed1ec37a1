"""The widget in a real browser: headless Chromium on the demo page served by `recommender serve`
over the demo corpus and the real model (issue 5). Needs /usr/bin/chromium and chromedriver
(scripts/install_browser.sh); without them these tests skip, or fail when CI is set."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from recommender.api.routes.pages import MONTHS
from recommender.cli import app as cli
from recommender.demo import demo_articles, demo_clusters, demo_near_duplicates, hot_articles
from recommender.events import Event
from recommender.store import SqliteStore as Store
from tests.browser_support import (
    ARTIFACTS,
    REPO,
    ServerProcess,
    chromium,
    free_port,
    full_page_screenshot,
    get_json,
    get_text,
    require_browser,
    script_errors,
    severe_non_network,
    static_server,
    wait_until,
)

pytestmark = pytest.mark.browser

STORY = "demo-016"  # Cuban soldiers in Russia's army, as on the seed page
SCREENSHOT = ARTIFACTS / "demo-page.png"


@dataclass(frozen=True)
class Demo:
    root: Path
    db_path: Path
    server: ServerProcess


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo built into a temporary folder and served by a `recommender serve` subprocess."""
    require_browser()
    root = tmp_path_factory.mktemp("browser-demo")
    env = {
        "RECOMMENDER_DATA_DIR": str(root / "var"),
        "RECOMMENDER_MODELS_DIR": str(root / "models"),
        "RECOMMENDER_API_TOKEN": "browser-test-token",
        # a click reaches cached Populair lists within the result cache's TTL: keep it short
        "RECOMMENDER_RESULT_CACHE_TTL_SECONDS": "2",
    }
    # the service ranks with the shipped weights when there are any, else with its defaults
    ranker = REPO / "models" / "ranker.json"
    if ranker.exists():
        env["RECOMMENDER_RANKER_PATH"] = str(ranker)
    result = CliRunner().invoke(cli, ["demo"], env=env)
    assert result.exit_code == 0, result.output
    server = ServerProcess(env, root)
    try:
        server.wait_ready(timeout=90)
        yield Demo(root, root / "var" / "recommender.db", server)
    finally:
        server.stop()


def events_since(db_path: Path, since: float) -> list[Event]:
    store = Store(db_path)
    try:
        return list(store.iter_events(since_ts=since))
    finally:
        store.close()


def block_items(driver: Any, kind: str) -> list[dict[str, str]]:
    items: list[dict[str, str]] = driver.execute_script(
        """
        return Array.from(document.querySelectorAll(
            '.rec-widget .rec-' + arguments[0] + ' li.rec-item')).map(function (li) {
          var link = li.querySelector('a.rec-link');
          var img = li.querySelector('img.rec-image');
          var headline = li.querySelector('.rec-headline');
          return {
            id: li.getAttribute('data-id'),
            position: li.getAttribute('data-position'),
            href: link ? link.href : '',
            headline: headline ? headline.textContent : '',
            alt: img ? (img.getAttribute('alt') || '') : null,
          };
        });
        """,
        kind,
    )
    return items


def alltime_score(base: str, article_id: str) -> float:
    ranked = get_json(f"{base}/v1/popular?window=alltime&k=50&explain=true")["items"]
    scores = {item["id"]: float(item["score"]) for item in ranked}
    assert article_id in scores, f"{article_id} is not among the 50 most clicked of all time"
    return scores[article_id]


def wait_for_state(driver: Any, timeout: float = 20.0) -> str:
    """The widget container's data-state once it has settled (not loading any more)."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    probe = (
        "var c = document.querySelector('.rec-widget');"
        "return c ? c.getAttribute('data-state') : 'no container';"
    )
    try:
        state: str = WebDriverWait(driver, timeout).until(
            lambda d: s if (s := d.execute_script(probe)) not in (None, "loading") else None
        )
    except TimeoutException:
        pytest.fail(
            f"the widget on {driver.current_url} did not settle in {timeout:.0f} s "
            f"(data-state {driver.execute_script(probe)!r}); browser log: "
            f"{driver.get_log('browser')}",
            pytrace=False,
        )
    return state


def test_demo_page_shows_both_blocks_and_a_click_is_counted(demo: Demo, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    base = demo.server.base
    started = time.time() - 1
    cuba = set(demo_clusters()["cuba"])
    copies = demo_near_duplicates()
    cuba_copies = {copy for copy, original in copies.items() if original in cuba}
    story_copies = {copy for copy, original in copies.items() if original == STORY}
    hot = set(hot_articles(demo_articles()))
    titles = {a.id: a.title for a in demo_articles()}

    with chromium(tmp_path / "profile") as driver:
        driver.get(f"{base}/demo/{STORY}")
        assert wait_for_state(driver) == "ready"

        # the article itself, laid out like the seed page
        assert driver.find_element(By.CSS_SELECTOR, "h1.article-title").text == titles[STORY]
        assert driver.find_element(By.CSS_SELECTOR, ".article-author").text.startswith("door ")
        # the date in Dutch and in Dutch time, whatever the server's own time zone
        published = datetime.fromisoformat(get_json(f"{base}/v1/articles/{STORY}")["published_at"])
        local = published.astimezone(ZoneInfo("Europe/Amsterdam"))
        date = driver.find_element(By.CSS_SELECTOR, ".article-date")
        assert re.fullmatch(r"\w+dag, \d\d \w+ \d{4} om \d\d:\d\d", date.text), date.text
        assert date.text.endswith(
            f"{local.day:02d} {MONTHS[local.month - 1]} {local.year} om "
            f"{local.hour:02d}:{local.minute:02d}"
        ), (date.text, local)
        assert datetime.fromisoformat(date.get_attribute("datetime")) == published.replace(
            microsecond=0
        )

        related = block_items(driver, "related")
        popular = block_items(driver, "popular")
        related_ids = [item["id"] for item in related]
        popular_ids = [item["id"] for item in popular]

        # Lees ook: four other Cuba stories, not the page's own article nor its copies
        assert len(related_ids) == 4 and len(set(related_ids)) == 4, related_ids
        assert set(related_ids) <= (cuba | cuba_copies) - {STORY} - story_copies, related_ids
        # Populair nieuws: six of the stories the demo click log made popular
        assert len(popular_ids) == 6 and len(set(popular_ids)) == 6, popular_ids
        assert set(popular_ids) <= hot, set(popular_ids) - hot
        assert not set(related_ids) & set(popular_ids)
        assert STORY not in related_ids + popular_ids

        for item in related + popular:
            assert item["headline"] == titles[item["id"]]
            # the demo page links to the other demo pages (data-link-template)
            assert item["href"] == f"{base}/demo/{item['id']}"
            assert item["position"] == str((related if item in related else popular).index(item))
            assert item["alt"], f"thumbnail of {item['id']} has no alt text"
        widget_text = driver.find_element(By.CSS_SELECTOR, ".rec-widget").text
        assert "Lees ook" in widget_text and "POPULAIR NIEUWS" in widget_text.upper()
        for article_id in related_ids + popular_ids:
            assert titles[article_id] in widget_text  # rendered and visible, not only in the DOM

        recommendation_ids = driver.execute_script(
            "return ['related', 'popular'].map(function (k) {"
            "  return document.querySelector('.rec-' + k).getAttribute('data-recommendation-id');"
            "});"
        )
        assert all(recommendation_ids) and len(set(recommendation_ids)) == 2
        session_id = driver.execute_script("return sessionStorage.getItem('rec_session_id')")
        assert session_id

        # both blocks in view: each reports one impression, on top of the page's view event
        driver.execute_script(
            "document.querySelector('.rec-popular').scrollIntoView({block: 'end'})"
        )

        def page_events() -> list[Event] | None:
            # stored behind the client's key (c.<hash>/<session>): readers.py
            mine = [
                e
                for e in events_since(demo.db_path, started)
                if (e.session_id or "").endswith(f"/{session_id}")
            ]
            views = [e for e in mine if e.type == "view" and e.article_id == STORY]
            shown = {
                e.recommendation_id
                for e in mine
                if e.type == "impression" and e.article_id == STORY
            }
            return mine if views and shown >= set(recommendation_ids) else None

        page = wait_until(page_events, 15, "the view and both impression events in the store")
        assert len([e for e in page if e.type == "view"]) == 1
        assert len([e for e in page if e.type == "impression"]) == 2

        # thumbnails that cannot load (the demo's image host does not exist) keep a clean grey
        # box: no broken-image icon with alt text spilling out
        wait_until(
            lambda: driver.execute_script(
                "var imgs = document.querySelectorAll('.rec-widget img.rec-image');"
                "return imgs.length === 10 && Array.from(imgs).every(function (i) {"
                "  return i.complete && i.naturalWidth > 0; });"
            ),
            15,
            "every thumbnail to show an image or the blank placeholder",
        )

        ARTIFACTS.mkdir(exist_ok=True)
        full_page_screenshot(driver, SCREENSHOT)
        assert SCREENSHOT.stat().st_size > 10_000

        # a click on the second Populair item: stored with its list and position, and counted
        clicked = popular[1]
        before = alltime_score(base, clicked["id"])
        driver.find_element(
            By.CSS_SELECTOR, ".rec-popular li.rec-item[data-position='1'] a.rec-link"
        ).click()
        WebDriverWait(driver, 15).until(
            lambda d: d.current_url == clicked["href"],
            message=f"the click did not navigate to {clicked['href']}",
        )

        def click_event() -> Event | None:
            clicks = [
                e
                for e in events_since(demo.db_path, started)
                if e.type == "click" and (e.session_id or "").endswith(f"/{session_id}")
            ]
            return clicks[0] if clicks else None

        click = wait_until(click_event, 15, "the click event in the store")
        assert click.article_id == clicked["id"]
        assert click.recommendation_id == recommendation_ids[1]
        assert click.position == 1

        after = wait_until(
            lambda: score if (score := alltime_score(base, clicked["id"])) != before else None,
            10,
            "the click to reach the popularity counters",
        )
        # one click from one session: exactly one more (the view of the landing page that
        # follows is the same session on the same article, so it is not counted again)
        assert after - before == pytest.approx(1.0), (before, after)

        # the landing page (another demo page) renders its own widget without errors
        landed = wait_for_state(driver)
        assert landed == "ready", landed
        assert script_errors(driver) == []
        log = driver.get_log("browser")
        assert severe_non_network(log) == [], severe_non_network(log)


def test_page_still_renders_when_the_service_is_down(demo: Demo, tmp_path: Path) -> None:
    """The demo page and widget.js served as static files, with the API on a dead port: the
    article reads normally, the widget stays empty and nothing throws."""
    from selenium.webdriver.common.by import By

    base = demo.server.base
    site = tmp_path / "site"
    site.mkdir()
    page = get_text(f"{base}/demo/{STORY}")
    (site / "widget.js").write_text(get_text(f"{base}/widget.js"), encoding="utf-8")
    (site / "widget.css").write_text(get_text(f"{base}/widget.css"), encoding="utf-8")
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens here: the service is down

    with static_server(site) as static:
        # the page loads the widget under its versioned URL; the static copy has none
        # root-relative: the demo page never writes the request's Host header
        assert re.search(r'src="/widget/[0-9a-f]+/widget\.js"', page)
        page = re.sub(r'"/widget/[0-9a-f]+/widget\.', f'"{static}/widget.', page)
        page = page.replace('class="rec-widget"', f'class="rec-widget" data-api-base="{dead}"')
        (site / "article.html").write_text(page, encoding="utf-8")

        with chromium(tmp_path / "profile") as driver:
            driver.get(f"{static}/article.html")
            assert wait_for_state(driver) == "error"

            title = demo_articles_by_id()[STORY].title
            assert driver.find_element(By.CSS_SELECTOR, "h1.article-title").text == title
            body = driver.find_element(By.CSS_SELECTOR, ".article-body").text
            assert len(body) > 200 and "Cuba" in body
            assert driver.find_element(By.CSS_SELECTOR, ".article-lead").text
            container = driver.find_element(By.CSS_SELECTOR, ".rec-widget")
            assert container.find_elements(By.CSS_SELECTOR, ".rec-block") == []
            assert container.get_attribute("innerHTML").strip() == ""
            # the widget script did run: it tried the dead API
            assert driver.execute_script("return typeof window.RecommenderWidget") == "object"

            assert script_errors(driver) == []
            log = driver.get_log("browser")
            assert severe_non_network(log) == [], severe_non_network(log)
            assert not [e for e in log if e.get("source") == "javascript"]


def demo_articles_by_id() -> dict[str, Any]:
    return {a.id: a for a in demo_articles()}
