"""The editors' dashboard as one server-rendered HTML page: tiles, inline SVG charts and the
top lists, from the service's CTR statistics. No script and no third-party request: it works
behind any firewall and in any browser."""

from __future__ import annotations

import html
import math
from datetime import UTC, datetime
from typing import Any

BLOCK_NAMES = {"related": "Lees ook", "popular": "Populair nieuws"}
COLOURS = ("#1f5fa8", "#d9822b", "#2e8b57", "#b03a48", "#6a4c93", "#8c8c8c")
STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;background:#fafafa}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.muted{color:#666}.tiles{display:flex;flex-wrap:wrap;gap:12px}
.tile{background:#fff;border:1px solid #ddd;border-radius:6px;padding:12px 16px;min-width:150px}
.tile b{display:block;font-size:24px}table{border-collapse:collapse;background:#fff}
td,th{border:1px solid #ddd;padding:4px 8px;text-align:left}
svg{background:#fff;border:1px solid #ddd}
.cols{display:flex;flex-wrap:wrap;gap:24px}
"""


def esc(value: Any) -> str:
    return html.escape(str(value))


def pct(value: float | None) -> str:
    return "–" if value is None or math.isnan(value) else f"{value * 100:.1f}%"


def page_order(stats: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Blocks as the article page shows them: Lees ook, then Populair nieuws, then any other."""
    order = list(BLOCK_NAMES)
    return sorted(
        stats["blocks"].items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 9
    )


def tiles(stats: dict[str, Any]) -> str:
    cells = []
    for kind, block in page_order(stats):
        total = block["total"]
        cells.append(
            f'<div class="tile">{esc(BLOCK_NAMES.get(kind, kind))} CTR<b>{pct(total["ctr"])}</b>'
            f'<span class="muted">{total["clicked"]} clicked of {total["seen"]} seen; '
            f"{total['served']} served</span></div>"
        )
    hour = stats.get("events", {}).get("last_hour", {})
    rates = ", ".join(f"{esc(k)} {v}" for k, v in sorted(hour.items())) or "none"
    cells.append(f'<div class="tile">Events, last hour<b>{sum(hour.values())}</b>{rates}</div>')
    return '<div class="tiles">' + "".join(cells) + "</div>"


def bar_chart(values: list[tuple[str, float | None]], title: str) -> str:
    """Vertical bars with their labels, scaled to the largest value."""
    width, height, pad = 60 + 56 * max(1, len(values)), 190, 30
    top = max((v for _, v in values if v is not None), default=0.0) or 1.0
    parts = [f'<text x="8" y="16" font-size="13">{esc(title)}</text>']
    for i, (label, value) in enumerate(values):
        x = 40 + i * 56
        h = 0.0 if value is None else (height - 2 * pad - 10) * value / top
        y = height - pad - h
        parts.append(f'<rect x="{x}" y="{y:.1f}" width="36" height="{h:.1f}" fill="{COLOURS[0]}"/>')
        parts.append(f'<text x="{x}" y="{y - 4:.1f}" font-size="11">{pct(value)}</text>')
        parts.append(f'<text x="{x + 8}" y="{height - 10}" font-size="11">{esc(label)}</text>')
    return f'<svg width="{width}" height="{height}" role="img">{"".join(parts)}</svg>'


def interval_chart(rows: dict[str, dict[str, Any]], title: str) -> str:
    """Each variant's CTR as a dot with its 95% interval."""
    width, row_h = 470, 28
    height = 40 + row_h * max(1, len(rows))
    high = max((r["ctr_high"] or 0.0 for r in rows.values()), default=0.0) or 1.0

    def x(value: float) -> float:
        return 110 + 280 * value / high

    parts = [f'<text x="8" y="16" font-size="13">{esc(title)}</text>']
    for i, (name, row) in enumerate(rows.items()):
        y = 40 + i * row_h
        colour = COLOURS[i % len(COLOURS)]
        parts.append(f'<text x="8" y="{y + 4}" font-size="12">{esc(name)}</text>')
        if row["ctr"] is not None:
            low, up = row["ctr_low"], row["ctr_high"]
            parts.append(
                f'<line x1="{x(low):.1f}" y1="{y}" x2="{x(up):.1f}" y2="{y}" '
                f'stroke="{colour}" stroke-width="3"/>'
                f'<circle cx="{x(row["ctr"]):.1f}" cy="{y}" r="5" fill="{colour}"/>'
                f'<text x="{x(up) + 6:.1f}" y="{y + 4}" font-size="11">{pct(row["ctr"])}</text>'
            )
    return f'<svg width="{width}" height="{height}" role="img">{"".join(parts)}</svg>'


def line_chart(series: dict[str, dict[str, dict[str, Any]]], title: str) -> str:
    """CTR per day, one line per variant."""
    days = sorted({day for rows in series.values() for day in rows})
    width, height, pad = max(320, 60 + 40 * len(days)), 200, 30
    values = [r["ctr"] for rows in series.values() for r in rows.values() if r["ctr"] is not None]
    top = max(values, default=0.0) or 1.0
    step = (width - 2 * pad) / max(1, len(days) - 1)
    parts = [f'<text x="8" y="16" font-size="13">{esc(title)}</text>']
    for i, (variant, rows) in enumerate(series.items()):
        colour = COLOURS[i % len(COLOURS)]
        points = [
            (
                pad + days.index(day) * step,
                height - pad - (height - 2 * pad - 10) * row["ctr"] / top,
            )
            for day, row in sorted(rows.items())
            if row["ctr"] is not None
        ]
        line = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(
            f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2"/>'
            f'<text x="{width - 90}" y="{36 + 14 * i}" font-size="11" fill="{colour}">'
            f"{esc(variant)}</text>"
        )
        parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in points]
    if days:
        parts.append(f'<text x="{pad}" y="{height - 8}" font-size="11">{esc(days[0])}</text>')
        parts.append(
            f'<text x="{width - 80}" y="{height - 8}" font-size="11">{esc(days[-1])}</text>'
        )
    return f'<svg width="{width}" height="{height}" role="img">{"".join(parts)}</svg>'


def verdict(experiment: dict[str, Any] | None) -> str:
    if experiment is None:
        return '<p class="muted">One variant: no A/B test running.</p>'
    rule = experiment["rule"]
    lines = [
        f"<p>Rule, fixed in advance: {esc(rule['test'])}, α = {rule['alpha']:g} "
        f"(per comparison {rule['alpha_per_comparison']:g}), power {rule['power']:g} for a "
        f"{rule['min_relative_lift']:.0%} lift on {rule['baseline_ctr']:.1%}: "
        f"{rule['sample_size_per_arm']} views per arm.</p><ul>"
    ]
    for name, c in experiment["comparisons"].items():
        detail = (
            f"{c['progress']:.0%} of the sample"
            if c["status"] == "collecting"
            else f"p = {c['p_value']:.4f}, lift {c['relative_lift']}"
        )
        lines.append(
            f"<li>{esc(name)} vs {esc(experiment['control'])}: <b>{esc(c['status'])}</b> "
            f"({esc(detail)})</li>"
        )
    winner = experiment["winner"]
    lines.append(f"</ul><p>Winner: <b>{esc(winner or 'none yet')}</b></p>")
    return "".join(lines)


def block_section(kind: str, block: dict[str, Any]) -> str:
    name = BLOCK_NAMES.get(kind, kind)
    positions = [(str(r["position"] + 1), r["ctr"]) for r in block["by_position"]]
    return (
        f"<h2>{esc(name)}</h2><div class='cols'>"
        + bar_chart(positions, f"{name}: CTR by position")
        + interval_chart(block["by_variant"], f"{name}: CTR by variant (95% interval)")
        + line_chart(block["by_variant_day"], f"{name}: CTR by variant per day")
        + "</div>"
        + verdict(block.get("experiment"))
    )


def top_lists(overview: dict[str, Any]) -> str:
    cols = []
    for window, items in overview["top"].items():
        rows = "".join(
            f"<tr><td>{i + 1}</td><td>{esc(it['title'])}</td><td>{esc(it['section'] or '')}</td>"
            "</tr>"
            for i, it in enumerate(items)
        )
        cols.append(f"<table><tr><th colspan=3>Populair now: {esc(window)}</th></tr>{rows}</table>")
    return "<h2>Top lists now</h2><div class='cols'>" + "".join(cols) + "</div>"


def index_age(built_at: str | None, now: float) -> str:
    if not built_at:
        return "built in memory at start-up"
    try:
        hours = (now - datetime.fromisoformat(built_at).timestamp()) / 3600
    except ValueError:
        return esc(built_at)
    return f"built {esc(built_at)} ({hours:.1f} h ago)"


def render_dashboard(
    stats: dict[str, Any], overview: dict[str, Any], health: dict[str, Any]
) -> str:
    now = stats["generated_at"]
    generated = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d %H:%M UTC")
    blocks = "".join(block_section(kind, block) for kind, block in page_order(stats))
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>recommender dashboard</title><link rel='icon' href='data:,'>"
        f"<style>{STYLE}</style></head><body>"
        f"<h1>Recommendations: what works</h1><p class='muted'>{generated}, last "
        f"{stats['days']:g} days; experiment {esc(stats['experiment'])}; variants "
        f"{esc(', '.join(v['name'] for v in stats['variants']))}</p>"
        + tiles(stats)
        + (blocks or "<p>No served lists in this window yet.</p>")
        + top_lists(overview)
        + f"<h2>Index</h2><p>{health['indexed']} of {health['articles']} articles indexed, "
        f"model {esc(health['model'])}, ranker {esc(health['ranker'])}, "
        f"{index_age(overview.get('index_built_at'), now)}.</p>"
        "</body></html>"
    )
