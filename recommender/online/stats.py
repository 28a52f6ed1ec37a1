"""Everything /v1/stats/ctr, the dashboard and `recommender report ctr` show, from the served-list
log and the event log of one time window."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from recommender.config import Settings
from recommender.events import Event
from recommender.online.abtest import DecisionRule, decide
from recommender.online.ctr import by_block, ctr_stats, join
from recommender.store import EventLog, ServedLog

DAY = 86_400.0


def rule_of(settings: Settings) -> DecisionRule:
    return DecisionRule(
        settings.ab_alpha,
        settings.ab_power,
        settings.ab_baseline_ctr,
        settings.ab_min_relative_lift,
    )


def variants_of(settings: Settings) -> list[tuple[str, float]]:
    """(name, share) of each variant, the control first; one "default" without any."""
    return [(v.name, v.share) for v in settings.variants] or [("default", 1.0)]


def event_rates(events: list[Event], now: float) -> dict[str, dict[str, int]]:
    """Events per type in the last hour and in the whole window."""
    out: dict[str, dict[str, int]] = {"last_hour": {}, "window": {}}
    for event in events:
        out["window"][event.type] = out["window"].get(event.type, 0) + 1
        if event.ts >= now - 3_600:
            out["last_hour"][event.type] = out["last_hour"].get(event.type, 0) + 1
    return out


def window_stats(
    served_log: ServedLog,
    events: EventLog,
    variants: Sequence[tuple[str, float]],
    rule: DecisionRule,
    experiment: str,
    days: float,
    now: float,
) -> dict[str, Any]:
    """CTR per block, position, variant, section and day over the last `days`, with each
    block's A/B verdict under the rule (variants: (name, share), the control first)."""
    since = now - days * DAY
    recent = list(events.iter_events(since_ts=since))
    outcomes = join(served_log.iter_served(since), recent)
    stats = ctr_stats(outcomes, now)
    names = [name for name, _ in variants]
    for kind, group in by_block(outcomes).items():
        verdict = decide(group, names, rule) if len(names) > 1 else None
        stats["blocks"][kind]["experiment"] = verdict
    stats["events"] = event_rates(recent, now)
    stats["days"] = days
    stats["experiment"] = experiment
    stats["variants"] = [{"name": name, "share": share} for name, share in variants]
    return stats
