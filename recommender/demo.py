"""The demo corpus (Dutch articles written by us, in demo_data/) and a generated click log that
makes a handful of stories popular. Dates are shifted so the newest article is an hour old."""

from __future__ import annotations

import csv
import json
import random
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from pathlib import Path

from recommender.articles import Article, read_jsonl
from recommender.events import Event

DEMO_SEED = 20251006
HOT_COUNT = 8


def demo_path(name: str) -> Path:
    return Path(str(files("recommender").joinpath("demo_data", name)))


def demo_articles(now: datetime | None = None) -> list[Article]:
    """The demo corpus, with dates moved so its newest article was published an hour ago."""
    now = now or datetime.now(UTC)
    articles = [
        item for _, item in read_jsonl(demo_path("articles.jsonl")) if isinstance(item, Article)
    ]
    newest = max(a.published_at for a in articles if a.published_at)
    shift = (now - timedelta(hours=1)) - newest
    return [
        a.model_copy(update={"published_at": a.published_at + shift}) if a.published_at else a
        for a in articles
    ]


def demo_clusters() -> dict[str, list[str]]:
    data: dict[str, list[str]] = json.loads(demo_path("clusters.json").read_text())
    return data


def demo_near_duplicates() -> dict[str, str]:
    data: dict[str, str] = json.loads(demo_path("near_duplicates.json").read_text())
    return data


def hot_articles(articles: list[Article]) -> list[str]:
    """The stories the demo click log makes popular: one per section where possible, never from
    the Cuba cluster (so the demo shows the two blocks apart) and never a syndicated copy."""
    avoid = set(demo_clusters().get("cuba", [])) | set(demo_near_duplicates())
    avoid |= set(demo_near_duplicates().values())
    rng = random.Random(DEMO_SEED)
    pool = [a for a in articles if a.id not in avoid]
    rng.shuffle(pool)
    hot: list[str] = []
    sections: set[str | None] = set()
    for article in pool:
        if article.section not in sections:
            hot.append(article.id)
            sections.add(article.section)
        if len(hot) == HOT_COUNT:
            break
    return hot


def demo_click_log(articles: list[Article], now: datetime | None = None) -> list[Event]:
    """Clicks over the last six hours: the hot stories get many, sixty others a few."""
    now = now or datetime.now(UTC)
    rng = random.Random(DEMO_SEED)
    hot = hot_articles(articles)
    events: list[Event] = []
    session = 0

    def clicks(article_id: str, count: int) -> None:
        nonlocal session
        for _ in range(count):
            session += 1
            ts = now - timedelta(minutes=rng.uniform(1, 360))
            events.append(Event(ts.timestamp(), "click", article_id, f"demo-session-{session}"))

    for rank, article_id in enumerate(hot):
        clicks(article_id, 120 - 12 * rank)
    others = [a.id for a in articles if a.id not in hot]
    for article_id in rng.sample(others, min(60, len(others))):
        clicks(article_id, rng.randint(1, 5))
    events.sort(key=lambda e: e.ts)
    return events


def write_events_csv(events: list[Event], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["ts", "type", "article_id", "session_id", "recommendation_id", "position"])
        for e in events:
            iso = datetime.fromtimestamp(e.ts, UTC).isoformat()
            writer.writerow(
                [
                    iso,
                    e.type,
                    e.article_id,
                    e.session_id or "",
                    e.recommendation_id or "",
                    "" if e.position is None else e.position,
                ]
            )
