"""The running service's side of online evaluation: which variant a reader gets, the log of
every answered list (written off the hot path), and the click-through it adds up to."""

from __future__ import annotations

import time
from typing import Any

from recommender.config import Settings
from recommender.events import ServedList
from recommender.online.stats import rule_of, window_stats
from recommender.online.writer import ServedListWriter
from recommender.ranking import RankedList
from recommender.ranking.variants import RankingVariant, assign, build_variants
from recommender.ranking.weights import Weights
from recommender.store import EventLog, ServedLog

LOGGED = "served_log.queued"  # the memo mark of a list queued for the served-list log


class OnlineEvaluation:
    def __init__(self, settings: Settings, served: Weights, served_log: ServedLog) -> None:
        self.variants = build_variants(settings, served)
        self._experiment = settings.experiment
        self._log = served_log
        self._enabled = settings.served_log
        self.writer = ServedListWriter(
            served_log,
            flush_seconds=settings.served_log_flush_seconds,
            max_pending=settings.served_log_max_pending,
            retention_days=settings.served_log_retention_days,
        )
        self.rule = rule_of(settings)

    def start(self) -> None:
        if self._enabled:
            self.writer.start()

    def close(self) -> None:
        self.writer.stop()
        self._log.close()

    def choose(self, session_id: str | None, requested: str | None) -> RankingVariant:
        return assign(self.variants, self._experiment, session_id, requested)

    def record(self, ranked: RankedList, context_id: str | None, section: str | None) -> None:
        """One row per answered list; the variant goes back to the caller with the list. A list
        the result cache answers again has the same recommendation id, whose first row is the
        one the log keeps: it is queued once, the first time (a mark in the list's memo), so
        cache hits cost neither the row nor its write."""
        if not self._enabled:
            return
        if ranked.memo.get(LOGGED):
            self.writer.repeated += 1
            return
        ranked.memo[LOGGED] = True
        self.writer.record(
            ServedList(
                ranked.recommendation_id,
                time.time(),
                ranked.kind,
                ranked.variant,
                context_id,
                section,
                tuple(item.card.id for item in ranked.items),
            )
        )

    def stats(self, events: EventLog, days: float, now: float | None = None) -> dict[str, Any]:
        """CTR per block, position, variant, section and day over the last `days`, with the
        A/B verdict of each block under the rule fixed in the settings."""
        now = time.time() if now is None else now
        self.writer.flush(now)  # lists answered a moment ago count too
        variants = [(v.name, v.share) for v in self.variants]
        stats = window_stats(self._log, events, variants, self.rule, self._experiment, days, now)
        stats["served_log"] = {
            "recorded": self.writer.recorded,
            "written": self.writer.written,
            "dropped": self.writer.dropped,
            "repeated": self.writer.repeated,
        }
        return stats
