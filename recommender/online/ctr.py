"""Click-through from the served-list log and the event log, joined by recommendation id.

The unit is a *view*: one reader seeing one served list. One answer can be seen by many readers
when a cache or CDN hands it out again, so views are told apart by the events' session id. A
view starts with an impression event (the widget sends one when the block scrolls into view) or
with a click (a click proves the list was seen, also when its impression got lost). A reader's
clicks count once per position, so a double click or a retried beacon does not count twice.
Events without a session: each impression is a view of its own, and a click joins the oldest
such view that has no click yet. CTR of a block = views with a click / views; CTR of a position
= clicks at that position / views of lists that had an item there.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from recommender.events import Event, ServedList

Z95 = 1.959964  # two-sided 95% normal quantile


@dataclass
class Tally:
    served: int = 0  # distinct lists answered (one from the result cache counts once)
    seen: int = 0  # views: readers who saw a list
    clicked: int = 0  # views with at least one click
    clicks: int = 0

    @property
    def ctr(self) -> float:
        return self.clicked / self.seen if self.seen else math.nan

    def interval(self) -> tuple[float, float]:
        """Wilson 95% interval of the list CTR: sensible at 0 and 1 and at small counts."""
        n = self.seen
        if n == 0:
            return (math.nan, math.nan)
        p = self.clicked / n
        centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
        half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
        return (max(0.0, centre - half), min(1.0, centre + half))

    def as_dict(self) -> dict[str, Any]:
        low, high = self.interval()
        return {
            "served": self.served,
            "seen": self.seen,
            "clicked": self.clicked,
            "clicks": self.clicks,
            "ctr": _round(self.ctr),
            "ctr_low": _round(low),
            "ctr_high": _round(high),
        }


@dataclass
class ListOutcome:
    """What happened to one served list: its views, each the set of positions clicked."""

    served: ServedList
    views: list[set[int]] = field(default_factory=list)
    _by_reader: dict[str, int] = field(default_factory=dict)
    _anonymous_unclicked: deque[int] = field(default_factory=deque)

    def view_of(self, event: Event) -> set[int]:
        """The view an impression or click belongs to, started when it is the first."""
        if event.session_id is not None:
            row = self._by_reader.get(event.session_id)
            if row is None:
                row = self._by_reader[event.session_id] = len(self.views)
                self.views.append(set())
            return self.views[row]
        if event.type == "click" and self._anonymous_unclicked:
            return self.views[self._anonymous_unclicked.popleft()]
        if event.type == "impression":
            self._anonymous_unclicked.append(len(self.views))
        self.views.append(set())
        return self.views[-1]


def join(served: Iterable[ServedList], events: Iterable[Event]) -> list[ListOutcome]:
    """Each served list with its views and clicks; events naming no served list (another
    site's ids, lists past retention) and clicks at no listed position are ignored."""
    outcomes = {s.recommendation_id: ListOutcome(s) for s in served}
    for event in events:
        outcome = outcomes.get(event.recommendation_id or "")
        if outcome is None:
            continue
        if event.type == "impression":
            outcome.view_of(event)
        elif event.type == "click":
            position = -1 if event.position is None else event.position
            if 0 <= position < len(outcome.served.item_ids):
                outcome.view_of(event).add(position)
    return sorted(outcomes.values(), key=lambda o: o.served.ts)


def tally(outcomes: Iterable[ListOutcome]) -> Tally:
    out = Tally()
    for o in outcomes:
        out.served += 1
        out.seen += len(o.views)
        out.clicked += sum(1 for view in o.views if view)
        out.clicks += sum(len(view) for view in o.views)
    return out


def day_of(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def by(outcomes: list[ListOutcome], key: str) -> dict[str, dict[str, Any]]:
    """Tallies grouped by "variant", "section" or "day"."""
    groups: dict[str, list[ListOutcome]] = defaultdict(list)
    for o in outcomes:
        s = o.served
        name = {"variant": s.variant, "section": s.section or "-", "day": day_of(s.ts)}[key]
        groups[name].append(o)
    return {name: tally(group).as_dict() for name, group in sorted(groups.items())}


def by_position(outcomes: list[ListOutcome]) -> list[dict[str, Any]]:
    """Clicks at each position over the views of lists that had an item there."""
    longest = max((len(o.served.item_ids) for o in outcomes), default=0)
    rows = []
    for position in range(longest):
        views = [v for o in outcomes if len(o.served.item_ids) > position for v in o.views]
        clicks = sum(position in view for view in views)
        rows.append(
            {
                "position": position,
                "seen": len(views),
                "clicks": clicks,
                "ctr": _round(clicks / len(views)) if views else None,
            }
        )
    return rows


def by_variant_and_day(outcomes: list[ListOutcome]) -> dict[str, dict[str, dict[str, Any]]]:
    groups: dict[str, list[ListOutcome]] = defaultdict(list)
    for o in outcomes:
        groups[o.served.variant].append(o)
    return {variant: by(group, "day") for variant, group in sorted(groups.items())}


def block_stats(outcomes: list[ListOutcome]) -> dict[str, Any]:
    return {
        "total": tally(outcomes).as_dict(),
        "by_position": by_position(outcomes),
        "by_variant": by(outcomes, "variant"),
        "by_section": by(outcomes, "section"),
        "by_day": by(outcomes, "day"),
        "by_variant_day": by_variant_and_day(outcomes),
    }


def by_block(outcomes: Iterable[ListOutcome]) -> dict[str, list[ListOutcome]]:
    """The lists of each block: "related" (Lees ook) and "popular" (Populair nieuws)."""
    blocks: dict[str, list[ListOutcome]] = defaultdict(list)
    for o in outcomes:
        blocks[o.served.kind].append(o)
    return dict(sorted(blocks.items()))


def ctr_stats(outcomes: list[ListOutcome], now: float | None = None) -> dict[str, Any]:
    """CTR per block, each broken down by position, variant, section and day."""
    return {
        "generated_at": time.time() if now is None else now,
        "blocks": {kind: block_stats(group) for kind, group in by_block(outcomes).items()},
    }


def _round(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 6)
