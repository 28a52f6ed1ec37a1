"""Every PNG chart the project draws: the evaluation report's and the click-through report's.
The only matplotlib user; matplotlib is imported on first use, so serving never loads it."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any


def pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # no display: write files only
    import matplotlib.pyplot as plt

    return plt


def frontier_plot(result: dict[str, Any], folder: Path) -> Path:
    """Entity P@5 against next-click nDCG@10, one marker per family, the shipped point ringed."""
    plt = pyplot()
    lees = result["lees_ook"]
    info = result["variants"]
    frontier = folder / "frontier.png"
    fig, ax = plt.subplots(figsize=(7, 5))
    for family, marker in (
        ("blend", "o"),
        ("content", "s"),
        ("learned", "*"),
        ("baseline", "^"),
        ("settings", "D"),
    ):
        names = [n for n in lees if info[n]["family"] == family]
        xs = [lees[n].get("entity_p@5", math.nan) for n in names]
        ys = [lees[n].get("ndcg@10", math.nan) for n in names]
        ax.scatter(xs, ys, marker=marker, label=family, s=60 if marker == "*" else 30)
        for name, x, y in zip(names, xs, ys, strict=True):
            ax.annotate(name, (x, y), fontsize=6, xytext=(3, 2), textcoords="offset points")
    shipped = lees[result["shipped"]]
    ax.scatter(
        [shipped.get("entity_p@5")],
        [shipped.get("ndcg@10")],
        s=200,
        facecolors="none",
        edgecolors="red",
        label="shipped",
    )
    blends = sorted(
        (lees[n].get("entity_p@5", math.nan), lees[n].get("ndcg@10", math.nan))
        for n in lees
        if info[n]["family"] == "blend" and info[n]["mmr"]
    )
    ax.plot([b[0] for b in blends], [b[1] for b in blends], lw=0.8, color="grey")
    labels = ("entity precision@5 (topical)", "next-click nDCG@10 (behavioural)")
    return _finish(plt, fig, ax, labels, "Lees ook frontier, test users", frontier)


def _finish(plt: Any, fig: Any, ax: Any, labels: tuple[str, str], title: str, path: Path) -> Path:
    """Axis labels, title and legend, then the PNG written and the figure closed."""
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def variant_bars(result: dict[str, Any], folder: Path) -> Path:
    """One bar chart per metric, the shipped variant in red."""
    plt = pyplot()
    lees = result["lees_ook"]
    info = result["variants"]
    bars = folder / "metrics_by_variant.png"
    metrics = ("ndcg@10", "recall@10", "entity_p@5", "subcat_p@5", "coverage", "diversity")
    names = [n for n in lees if info[n]["mmr"] or info[n]["kind"] != "blend"]
    fig, axes = plt.subplots(len(metrics), 1, figsize=(10, 2.2 * len(metrics)), sharex=True)
    for ax, metric in zip(axes, metrics, strict=True):
        values = [lees[n].get(metric, math.nan) for n in names]
        colors = ["red" if n == result["shipped"] else "steelblue" for n in names]
        ax.bar(range(len(names)), values, color=colors)
        ax.set_ylabel(metric, fontsize=8)
    axes[-1].set_xticks(range(len(names)))
    axes[-1].set_xticklabels(names, rotation=60, ha="right", fontsize=7)
    fig.tight_layout()
    fig.savefig(bars, dpi=110)
    plt.close(fig)
    return bars


def ctr_by_position(blocks: dict[str, dict[str, Any]], path: Path) -> Path:
    """Click-through per list position, one bar group per block ({label: block stats})."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    width = 0.8 / max(1, len(blocks))
    for i, (label, block) in enumerate(blocks.items()):
        rows = block["by_position"]
        xs = [r["position"] + 1 + (i - (len(blocks) - 1) / 2) * width for r in rows]
        ax.bar(xs, [r["ctr"] or 0.0 for r in rows], width=width, label=label)
    ax.set_xlabel("position in the list (1 = first)")
    ax.set_ylabel("clicks / views")
    ax.set_title("Click-through by position")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def ctr_by_variant_over_time(blocks: dict[str, dict[str, Any]], path: Path) -> Path:
    """List click-through per day and variant with its 95% interval, one panel per block."""
    plt = pyplot()
    fig, axes = plt.subplots(len(blocks), 1, figsize=(8, 3.2 * max(1, len(blocks))), squeeze=False)
    for ax, (label, block) in zip(axes[:, 0], blocks.items(), strict=True):
        for variant, days in block["by_variant_day"].items():
            rows = [(day, r) for day, r in sorted(days.items()) if r["ctr"] is not None]
            xs = [day for day, _ in rows]
            ax.plot(xs, [r["ctr"] for _, r in rows], marker="o", label=variant)
            ax.fill_between(
                xs, [r["ctr_low"] for _, r in rows], [r["ctr_high"] for _, r in rows], alpha=0.2
            )
        ax.set_title(f"{label}: click-through by variant (95% interval)", fontsize=10)
        ax.set_ylabel("views with a click / views")
        ax.tick_params(axis="x", labelrotation=45, labelsize=7)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def primary_frontier_plot(primary: dict[str, Any], folder: Path) -> Path:
    """The primary comparison: entity P@5 against next-click nDCG@5 for every variant and grid
    point, the frontier joined, the shipped point ringed."""
    plt = pyplot()
    results, families = primary["variants"], primary["families"]
    path = folder / "frontier_primary.png"
    fig, ax = plt.subplots(figsize=(7, 5))
    styles = (
        ("grid", "o", 12),
        ("grid content", "s", 14),
        ("content", "s", 30),
        ("baseline", "^", 30),
        ("learned", "*", 160),
    )
    for family, marker, size in styles:
        names = [n for n in results if families[n] == family]
        xs = [results[n].get("entity_p@5", math.nan) for n in names]
        ys = [results[n].get("ndcg@5", math.nan) for n in names]
        ax.scatter(xs, ys, marker=marker, s=size, label=family, alpha=0.7)
        if family in ("content", "baseline", "learned"):
            for name, x, y in zip(names, xs, ys, strict=True):
                ax.annotate(name, (x, y), fontsize=6, xytext=(3, 2), textcoords="offset points")
    front = sorted((results[n]["entity_p@5"], results[n]["ndcg@5"]) for n in primary["frontier"])
    ax.plot([p[0] for p in front], [p[1] for p in front], lw=0.8, color="grey", label="frontier")
    shipped = results[primary["shipped"]]
    ax.scatter(
        [shipped["entity_p@5"]],
        [shipped["ndcg@5"]],
        s=260,
        facecolors="none",
        edgecolors="red",
        label="shipped",
    )
    labels = (
        "entity precision@5 (topical; tags as ground truth only)",
        "next-click nDCG@5 (test users)",
    )
    return _finish(
        plt, fig, ax, labels, "Lees ook, one list of 5: every variant and the grid", path
    )
