"""The A/B decision rule, fixed before the test starts so that looking at the numbers early
cannot crown noise.

The rule: a two-sided two-proportion z-test of view CTR (views with a click / views) between the
control (the first variant) and each other variant, at significance alpha split evenly over the
comparisons (Bonferroni). The sample size per arm is computed in advance from the expected
control CTR, the smallest relative lift worth detecting and the power; the test reads exactly the
first n views of each arm, in the order their lists were served, so asking again later gives the
same answer instead of another chance at a false positive.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from recommender.online.ctr import ListOutcome

NORMAL = NormalDist()


@dataclass(frozen=True)
class DecisionRule:
    alpha: float = 0.05
    power: float = 0.8
    baseline_ctr: float = 0.05
    min_relative_lift: float = 0.2

    def sample_size(self, comparisons: int = 1) -> int:
        """Views per arm for a two-sided test to find the minimum lift with this power."""
        p1 = self.baseline_ctr
        p2 = min(0.999, p1 * (1 + self.min_relative_lift))
        z_alpha = NORMAL.inv_cdf(1 - self.alpha / (2 * max(1, comparisons)))
        z_power = NORMAL.inv_cdf(self.power)
        pooled = (p1 + p2) / 2
        root = z_alpha * math.sqrt(2 * pooled * (1 - pooled)) + z_power * math.sqrt(
            p1 * (1 - p1) + p2 * (1 - p2)
        )
        return math.ceil(root * root / (p2 - p1) ** 2)


def two_proportion_p_value(x1: int, n1: int, x2: int, n2: int) -> float:
    """Two-sided p-value of the pooled two-proportion z-test."""
    if n1 == 0 or n2 == 0:
        return 1.0
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    z = (x2 / n2 - x1 / n1) / se
    return 2 * (1 - NORMAL.cdf(abs(z)))


def decide(
    outcomes: Sequence[ListOutcome], variants: Sequence[str], rule: DecisionRule
) -> dict[str, Any]:
    """The verdict for one block: per non-control variant "collecting" (with progress),
    "winner" or "no difference"; `winner` names a variant only when the rule says so."""
    control = variants[0]
    n = rule.sample_size(comparisons=len(variants) - 1)
    alpha = rule.alpha / max(1, len(variants) - 1)
    seen: dict[str, list[bool]] = {v: [] for v in variants}
    for o in outcomes:  # in serving order: the horizon is the first n views of an arm
        if o.served.variant in seen:
            seen[o.served.variant] += [bool(view) for view in o.views]
    arms = {v: clicks[:n] for v, clicks in seen.items()}
    comparisons: dict[str, dict[str, Any]] = {}
    winners: list[str] = []
    for variant in variants[1:]:
        a, b = arms[control], arms[variant]
        if len(a) < n or len(b) < n:
            progress = min(len(a), len(b)) / n
            comparisons[variant] = {"status": "collecting", "progress": round(progress, 4)}
            continue
        p = two_proportion_p_value(sum(a), n, sum(b), n)
        lift = (sum(b) - sum(a)) / sum(a) if sum(a) else math.inf
        status = "no difference"
        if p < alpha:
            status = "winner" if sum(b) > sum(a) else "loser"
            if status == "winner":
                winners.append(variant)
        comparisons[variant] = {
            "status": status,
            "p_value": round(p, 6),
            "relative_lift": round(lift, 4) if math.isfinite(lift) else None,
            "ctr_control": round(sum(a) / n, 6),
            "ctr_variant": round(sum(b) / n, 6),
        }
    winner = None
    if winners:
        winner = max(winners, key=lambda v: float(comparisons[v]["ctr_variant"]))
    elif comparisons and all(c["status"] == "loser" for c in comparisons.values()):
        winner = control
    return {
        "control": control,
        "rule": {
            "test": "two-sided two-proportion z-test on CTR (views with a click / views)",
            "alpha": rule.alpha,
            "alpha_per_comparison": round(alpha, 6),
            "power": rule.power,
            "baseline_ctr": rule.baseline_ctr,
            "min_relative_lift": rule.min_relative_lift,
            "sample_size_per_arm": n,
        },
        "seen_per_arm": {v: len(clicks) for v, clicks in seen.items()},
        "comparisons": comparisons,
        "winner": winner,
    }
