"""MIND click logs for the evaluation: loading, the deterministic user split, next-click pairs and
the time-ordered popularity events.

MIND histories carry no time: they are the user's clicks before the impression log starts. We
stamp every history click one second before the first impression of the whole log, so it
counts as "already known" at every moment of the replay but never after anything that is timed.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from recommender.articles import Article, RecordError, RecordWarning, read_mind_news
from recommender.errors import InvalidInput
from recommender.events import Event, parse_mind_time

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Impression:
    impression_id: str
    user_id: str
    ts: float
    history: tuple[str, ...]
    shown: tuple[str, ...]
    labels: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Pair:
    """Read `query`, then `target`, at moment `ts` (seconds since the epoch)."""

    user_id: str
    query: str
    target: str
    ts: float
    source: str  # "history" (consecutive reads) or "impression" (last read → clicked item)
    adjacent: bool  # no unknown id between the two reads


@dataclass
class MindData:
    articles: list[Article]
    impressions: list[Impression]
    fingerprint: str
    rejected_news: int = 0
    rejected_behaviors: int = 0
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def start(self) -> float:
        return min(i.ts for i in self.impressions)

    @property
    def end(self) -> float:
        return max(i.ts for i in self.impressions)

    def users(self) -> list[str]:
        return sorted({i.user_id for i in self.impressions})

    def histories(self) -> dict[str, tuple[str, ...]]:
        """One history per user: MIND repeats it on every impression; keep the longest."""
        out: dict[str, tuple[str, ...]] = {}
        for imp in self.impressions:
            if len(imp.history) >= len(out.get(imp.user_id, ())):
                out[imp.user_id] = imp.history
        return out


def file_digest(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def load_mind(news: Path, behaviors: Path) -> MindData:
    """Articles with text from news.tsv and every impression from behaviors.tsv; bad lines are
    counted, not fatal."""
    for path in (news, behaviors):
        if not path.is_file():
            raise InvalidInput(f"no such file: {path}")
    articles: list[Article] = []
    rejected_news = 0
    for _, item in read_mind_news(news):
        if isinstance(item, RecordError):
            rejected_news += 1
        elif not isinstance(item, RecordWarning):
            articles.append(item)
    impressions: list[Impression] = []
    rejected = 0
    with behaviors.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            cells = line.rstrip("\n").split("\t")
            try:
                impressions.append(_impression(cells))
            except (ValueError, IndexError):
                rejected += 1
    if not impressions:
        raise InvalidInput(f"no usable impression in {behaviors}")
    data = MindData(articles, impressions, file_digest(news, behaviors), rejected_news, rejected)
    data.stats = id_stats(data)
    log.info("mind.loaded", extra={"articles": len(articles), **data.stats})
    return data


def _impression(cells: Sequence[str]) -> Impression:
    if len(cells) != 5:
        raise ValueError(f"expected 5 columns, got {len(cells)}")
    impression_id, user_id, when, history, shown = cells
    ids: list[str] = []
    labels: list[int] = []
    for token in shown.split():
        article_id, _, label = token.rpartition("-")
        if not article_id or label not in ("0", "1"):
            raise ValueError(f"invalid impression item {token!r}")
        ids.append(article_id)
        labels.append(int(label))
    return Impression(
        impression_id,
        user_id,
        parse_mind_time(when),
        tuple(history.split()),
        tuple(ids),
        tuple(labels),
    )


def id_stats(data: MindData) -> dict[str, int]:
    """How many logged ids have text: the subsample has text for only a few percent."""
    known = {a.id for a in data.articles}
    history = [i for h in data.histories().values() for i in h]
    shown = [i for imp in data.impressions for i in imp.shown]
    clicked = [
        i for imp in data.impressions for i, y in zip(imp.shown, imp.labels, strict=True) if y
    ]
    return {
        "users": len(data.users()),
        "impressions": len(data.impressions),
        "history_clicks": len(history),
        "history_clicks_with_text": sum(i in known for i in history),
        "impressed_items": len(shown),
        "impressed_items_with_text": sum(i in known for i in shown),
        "impression_clicks": len(clicked),
        "impression_clicks_with_text": sum(i in known for i in clicked),
        "rejected_behaviors": data.rejected_behaviors,
    }


def split_users(users: Iterable[str], test_fraction: float, seed: int) -> tuple[set[str], set[str]]:
    """Train and test users by a hash of (seed, user): the same on every machine and run, and a
    user never moves when others are added to the log."""
    if not 0.0 < test_fraction < 1.0:
        raise InvalidInput("test fraction must be between 0 and 1")
    train: set[str] = set()
    test: set[str] = set()
    for user in users:
        digest = hashlib.sha256(f"{seed}\0{user}".encode()).digest()
        (test if int.from_bytes(digest[:8], "big") / 2**64 < test_fraction else train).add(user)
    return train, test


def next_click_pairs(
    data: MindData, users: set[str], known: set[str]
) -> tuple[list[Pair], dict[str, int]]:
    """Consecutive reads A → B of each user's history, and last read → each clicked impression
    item. Ids without text cannot be ranked: they are skipped (A → unknown → B still gives
    A → B, marked not adjacent) and counted."""
    pairs: list[Pair] = []
    skipped = 0
    # history reads are scored at the log start: after every (stamped) history click
    start = data.start
    histories = data.histories()
    for user in sorted(users & histories.keys()):
        previous: str | None = None
        adjacent = True
        for article_id in histories[user]:
            if article_id not in known:
                skipped += 1
                adjacent = False
                continue
            if previous is not None and previous != article_id:
                pairs.append(Pair(user, previous, article_id, start, "history", adjacent))
            previous, adjacent = article_id, True
    for imp in sorted(data.impressions, key=lambda i: (i.ts, i.impression_id)):
        if imp.user_id not in users:
            continue
        last = next((i for i in reversed(imp.history) if i in known), None)
        for article_id, label in zip(imp.shown, imp.labels, strict=True):
            if not label:
                continue
            if article_id not in known or last is None:
                skipped += 1
                continue
            if article_id != last:
                adjacent = bool(imp.history) and imp.history[-1] == last
                pairs.append(Pair(imp.user_id, last, article_id, imp.ts, "impression", adjacent))
    stats = {
        "pairs": len(pairs),
        "pairs_adjacent": sum(p.adjacent for p in pairs),
        "pairs_from_history": sum(p.source == "history" for p in pairs),
        "pairs_from_impressions": sum(p.source == "impression" for p in pairs),
        "reads_without_text_skipped": skipped,
    }
    return pairs, stats


def click_events(data: MindData, users: set[str]) -> list[Event]:
    """Popularity evidence of these users, in time order: history clicks (untimed, stamped just
    before the log starts) and impression clicks at their impression time."""
    start = data.start - 1.0
    events: list[Event] = []
    for user, history in sorted(data.histories().items()):
        if user in users:
            events.extend(Event(start, "click", article_id, user) for article_id in history)
    for imp in data.impressions:
        if imp.user_id in users:
            events.extend(
                Event(imp.ts, "click", article_id, imp.user_id, imp.impression_id, position)
                for position, (article_id, label) in enumerate(
                    zip(imp.shown, imp.labels, strict=True)
                )
                if label
            )
    events.sort(key=lambda e: e.ts)
    return events


def first_seen(data: MindData) -> dict[str, float]:
    """First impression time of each item: a stand-in for its publication time, which MIND
    lacks. Used only to describe the age of recommended items, never as a feature."""
    seen: dict[str, float] = {}
    for imp in data.impressions:
        for article_id in imp.shown:
            if imp.ts < seen.get(article_id, float("inf")):
                seen[article_id] = imp.ts
    return seen
