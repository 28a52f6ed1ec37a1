"""Click-through from the served-list log and the event log, joined by recommendation id.

A list is *seen* when an impression event names its recommendation id (the widget sends one
when the block scrolls into view), or when it was clicked (a click proves it was seen, also when
its impression event got lost). Clicks count once per list and position, so a double click or a
retried beacon does not count twice. CTR of a block = clicked lists / seen lists; CTR of a
position = clicks at that position / seen lists that had an item there.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from recommender.events import Event, ServedList

Z95 = 1.959964  # two-sided 95% normal quantile


@dataclass
class Tally:
    served: int = 0
    seen: int = 0
    clicked: int = 0  # seen lists with at least one click
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
    """What happened to one served list."""

    served: ServedList
    seen: bool = False
    clicked_positions: set[int] = field(default_factory=set)


def join(served: Iterable[ServedList], events: Iterable[Event]) -> list[ListOutcome]:
    """Each served list with its impressions and clicks; events naming no served list (another
    site's ids, lists past retention) are ignored."""
    outcomes = {s.recommendation_id: ListOutcome(s) for s in served}
    for event in events:
        outcome = outcomes.get(event.recommendation_id or "")
        if outcome is None:
            continue
        if event.type == "impression":
            outcome.seen = True
        elif event.type == "click":
            position = -1 if event.position is None else event.position
            if 0 <= position < len(outcome.served.item_ids):
                outcome.clicked_positions.add(position)
                outcome.seen = True
    return sorted(outcomes.values(), key=lambda o: o.served.ts)


def tally(outcomes: Iterable[ListOutcome]) -> Tally:
    out = Tally()
    for o in outcomes:
        out.served += 1
        out.seen += o.seen
        out.clicked += bool(o.clicked_positions)
        out.clicks += len(o.clicked_positions)
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
    """Clicks at each position over the seen lists that had an item there."""
    longest = max((len(o.served.item_ids) for o in outcomes), default=0)
    rows = []
    for position in range(longest):
        shown = [o for o in outcomes if o.seen and len(o.served.item_ids) > position]
        clicks = sum(position in o.clicked_positions for o in shown)
        rows.append(
            {
                "position": position,
                "seen": len(shown),
                "clicks": clicks,
                "ctr": _round(clicks / len(shown)) if shown else None,
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
