"""`recommender report ctr`: the click-through statistics as report.md with PNG plots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from recommender import charts

BLOCK_NAMES = {"related": "Lees ook", "popular": "Populair nieuws"}


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.2f}%"


def _table(rows: dict[str, dict[str, Any]], label: str) -> list[str]:
    lines = [
        f"| {label} | served | seen | clicked | CTR | 95% interval |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        lines.append(
            f"| {name} | {r['served']} | {r['seen']} | {r['clicked']} | {_pct(r['ctr'])} | "
            f"{_pct(r['ctr_low'])} – {_pct(r['ctr_high'])} |"
        )
    return lines


def _verdict(experiment: dict[str, Any] | None) -> list[str]:
    if experiment is None:
        return ["One variant serves every reader: no A/B test.", ""]
    rule = experiment["rule"]
    lines = [
        f"Rule, fixed in advance: {rule['test']}; α = {rule['alpha']:g} "
        f"({rule['alpha_per_comparison']:g} per comparison), power {rule['power']:g} to detect a "
        f"{rule['min_relative_lift']:.0%} relative lift on a {rule['baseline_ctr']:.1%} CTR: "
        f"**{rule['sample_size_per_arm']} views per arm**, the first ones served.",
        "",
    ]
    for name, c in experiment["comparisons"].items():
        if c["status"] == "collecting":
            lines.append(f"- {name} vs {experiment['control']}: collecting ({c['progress']:.0%})")
        else:
            lines.append(
                f"- {name} vs {experiment['control']}: **{c['status']}** (CTR "
                f"{_pct(c['ctr_control'])} → {_pct(c['ctr_variant'])}, p = {c['p_value']:.4g})"
            )
    lines += ["", f"Winner: **{experiment['winner'] or 'none (yet)'}**", ""]
    return lines


def write_ctr_report(stats: dict[str, Any], folder: Path, command: str) -> Path:
    """report.md, ctr.json, ctr_by_position.png and ctr_by_variant.png in folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ctr.json").write_text(json.dumps(stats, indent=1) + "\n")
    blocks = {BLOCK_NAMES.get(k, k): b for k, b in stats["blocks"].items()}
    lines = [
        "# Click-through of the recommendation blocks",
        "",
        f"Last {stats['days']:g} days; experiment `{stats['experiment']}`; command: `{command}`.",
        "A view is one reader seeing one list (its impression event, or a click); CTR = views "
        "with a click / views; position CTR = clicks at the position / views.",
        "",
    ]
    if blocks:
        charts.ctr_by_position(blocks, folder / "ctr_by_position.png")
        charts.ctr_by_variant_over_time(blocks, folder / "ctr_by_variant.png")
        lines += [
            "![CTR by position](ctr_by_position.png)",
            "",
            "![CTR by variant](ctr_by_variant.png)",
            "",
        ]
    else:
        lines += ["No served lists in this window.", ""]
    for label, block in blocks.items():
        positions = ", ".join(
            f"{r['position'] + 1}: {_pct(r['ctr'])}" for r in block["by_position"]
        )
        lines += [f"## {label}", "", *_table({"all": block["total"]}, "lists"), ""]
        lines += [f"By position: {positions}.", ""]
        lines += [*_table(block["by_variant"], "variant"), "", *_verdict(block.get("experiment"))]
        lines += [*_table(block["by_section"], "section"), "", *_table(block["by_day"], "day"), ""]
    path = folder / "report.md"
    path.write_text("\n".join(lines))
    return path
