"""The Dutch seed-page check: a real article page (its text, its "Lees ook" and "Populair
nieuws" headlines) among real Dutch distractors, dated as on a live site. This module reads
the page and builds the articles and clicks; scripts/seed_page_check.py and the slow test
send them through the HTTP API and compare the two blocks with the page's own."""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from recommender.articles import Article
from recommender.events import Event

SEED_ID = "seed"
DAY = timedelta(days=1)
_WORDY = re.compile(r"[^\W\d_]{3,}")


@dataclass(frozen=True)
class SeedPage:
    title: str
    text: str
    related: list[str]  # the page's Lees-ook headlines
    popular: list[str]  # the page's Populair-nieuws headlines


def _words(line: str) -> int:
    return len(_WORDY.findall(line))


def _undouble(line: str) -> str:
    """The page's link text repeats each headline twice in a row."""
    half = len(line) // 2
    return line[:half] if len(line) % 2 == 0 and line[:half] == line[half:] else line


def parse_seed_page(text: str) -> SeedPage:
    """Title: the first line of several words (the menu above it has single words). Text: the
    paragraphs after it up to "Lees ook". Then the Lees-ook headlines up to "Populair nieuws"
    and the headlines after it (image ids between them have too few words to be one)."""
    lines = [line.strip() for line in text.splitlines()]
    start = next(n for n, line in enumerate(lines) if _words(line) >= 4)
    lees = next(n for n, line in enumerate(lines) if line.lower() == "lees ook")
    populair = next(n for n, line in enumerate(lines) if line.lower() == "populair nieuws")
    body = [line for line in lines[start + 1 : lees] if _words(line) >= 8]
    related = [_undouble(line) for line in lines[lees + 1 : populair] if _words(line) >= 3]
    popular = [line for line in lines[populair + 1 :] if _words(line) >= 4]
    return SeedPage(lines[start], "\n".join(body), related, popular)


def seed_articles(page: SeedPage, distractors: Path, now: datetime, seed: int = 1) -> list[Article]:
    """The seed an hour old, its Lees-ook stories 1 to 10 months old, the popular stories and
    every distractor within the last 30 days (headline as text for the page's headlines)."""
    rng = random.Random(seed)
    out = [Article(id=SEED_ID, title=page.title, text=page.text, published_at=now - DAY / 24)]
    for n, headline in enumerate(page.related):
        age = DAY * (30 + n * 270 / max(len(page.related) - 1, 1))
        out.append(Article(id=f"lees-{n}", title=headline, text=headline, published_at=now - age))
    for n, headline in enumerate(page.popular):
        age = DAY * rng.uniform(0.1, 3)
        out.append(Article(id=f"pop-{n}", title=headline, text=headline, published_at=now - age))
    for line in distractors.read_text().splitlines():
        record = json.loads(line) if line.strip() else None
        if not record or not str(record.get("title") or "").strip():
            continue
        age = DAY * rng.uniform(0.05, 30)
        out.append(
            Article(
                id=f"dpg-{record['id']}",
                title=record["title"],
                text=record.get("text", ""),
                published_at=now - age,
            )
        )
    return out


def seed_clicks(page: SeedPage, now: datetime, readers: int = 40, seed: int = 2) -> list[Event]:
    """Readers clicking the popular stories, the first most (as a popular list is ordered)."""
    rng = random.Random(seed)
    events = []
    for n in range(len(page.popular)):
        for reader in range(readers - 4 * n):
            ts = (now - DAY / 24 * rng.uniform(0, 6)).timestamp()
            events.append(Event(ts, "click", f"pop-{n}", f"reader-{n}-{reader}"))
    return events
