"""The Event model and event log readers: our CSV
(ts,type,article_id,session_id,recommendation_id,position) and MIND behaviors.tsv, where each
impression becomes impression events and click events."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from recommender.articles import RecordError
from recommender.errors import InvalidInput

EVENT_TYPES = ("view", "impression", "click")
MIND_TIME = "%m/%d/%Y %I:%M:%S %p"


@dataclass(frozen=True, slots=True)
class Event:
    """One behavioural event; ts is seconds since the epoch (UTC)."""

    ts: float
    type: str
    article_id: str
    session_id: str | None = None
    recommendation_id: str | None = None
    position: int | None = None
    # the sender's own id of the event (namespaced by sender): a retried batch is stored once
    event_id: str | None = None


@dataclass(frozen=True, slots=True)
class ServedList:
    """One list as it was answered: what the reader saw, under which ranking variant. Clicks and
    impressions come back with its recommendation id and a position, which join them to it."""

    recommendation_id: str
    ts: float
    kind: str  # "related" (Lees ook) or "popular" (Populair nieuws)
    variant: str
    context_id: str | None  # the article the list was asked for (Lees ook) or beside (Populair)
    section: str | None  # the context article's section: CTR per section
    item_ids: tuple[str, ...]


HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class EventAggregate:
    """Raw events past the retention window, compacted: how many of one type an article got in
    one hour (`hour`: whole hours since the epoch), and how many of those popularity counted
    (not a session repeat, not over a client's reader cap)."""

    article_id: str
    hour: int
    type: str
    events: int
    counted: int

    @property
    def ts(self) -> float:
        """The middle of its hour: replayed there, off by at most half an hour."""
        return self.hour * HOUR + HOUR / 2


EventResult = Iterator[tuple[int, Event | RecordError]]


def parse_time(value: str) -> float:
    """ISO 8601 (naive = UTC) or seconds since the epoch."""
    value = value.strip()
    try:
        return float(value)
    except ValueError:
        pass
    stamp = datetime.fromisoformat(value)
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()


def read_events_csv(path: Path) -> EventResult:
    with path.open(encoding="utf-8", errors="replace", newline="") as fh:
        reader = csv.DictReader(fh)
        for row in reader:
            line = reader.line_num
            try:
                kind = (row.get("type") or "").strip()
                if kind not in EVENT_TYPES:
                    raise ValueError(f"type must be one of {', '.join(EVENT_TYPES)}, got {kind!r}")
                article_id = (row.get("article_id") or "").strip()
                if not article_id:
                    raise ValueError("article_id is empty")
                position = (row.get("position") or "").strip()
                yield (
                    line,
                    Event(
                        parse_time(row.get("ts") or ""),
                        kind,
                        article_id,
                        (row.get("session_id") or "").strip() or None,
                        (row.get("recommendation_id") or "").strip() or None,
                        int(position) if position else None,
                    ),
                )
            except (ValueError, TypeError) as exc:
                yield line, RecordError(line, str(exc))


def parse_mind_time(value: str) -> float:
    return datetime.strptime(value.strip(), MIND_TIME).replace(tzinfo=UTC).timestamp()


def read_mind_behaviors(path: Path) -> EventResult:
    """impression_id, user_id, time, history, impressions ("N1-1 N2-0")."""
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line_no, line in enumerate(fh, start=1):
            cells = line.rstrip("\n").split("\t")
            if len(cells) != 5:
                yield (
                    line_no,
                    RecordError(line_no, f"expected 5 tab-separated columns, got {len(cells)}"),
                )
                continue
            impression_id, user_id, when, _history, shown = cells
            try:
                ts = parse_mind_time(when)
            except ValueError:
                yield line_no, RecordError(line_no, f"invalid time {when!r}")
                continue
            for position, token in enumerate(shown.split()):
                article_id, _, label = token.rpartition("-")
                if not article_id or label not in ("0", "1"):
                    yield line_no, RecordError(line_no, f"invalid impression item {token!r}")
                    continue
                yield line_no, Event(ts, "impression", article_id, user_id, impression_id, position)
                if label == "1":
                    yield line_no, Event(ts, "click", article_id, user_id, impression_id, position)


def read_events(path: Path, fmt: str = "auto") -> EventResult:
    if fmt == "auto":
        fmt = "mind" if path.suffix.lower() == ".tsv" else "csv"
    if not path.is_file():
        raise InvalidInput(f"no such file: {path}")
    if fmt == "mind":
        return read_mind_behaviors(path)
    if fmt == "csv":
        return read_events_csv(path)
    raise InvalidInput(f"unknown event format {fmt!r}; use csv or mind")
