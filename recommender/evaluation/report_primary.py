"""The report's section on the primary comparison (evaluation/primary*.py): acceptance, every
variant, the grid's frontier and how the shipped blend was chosen."""

from __future__ import annotations

import json
import math
from typing import Any

COLUMNS = (("ndcg@5", "nDCG@5"), ("entity_p@5", "Ent P@5"), ("recall@5", "R@5"))


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and (math.isnan(value) or math.isinf(value))):
        return "–"
    return f"{float(value):.{digits}f}"


def _table(rows: dict[str, dict[str, Any]], names: list[str], marked: str) -> list[str]:
    head = ["variant", *(label for _, label in COLUMNS)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in names:
        label = f"**★ {name}**" if name == marked else name
        cells = [_fmt(rows[name].get(key)) for key, _ in COLUMNS]
        lines.append("| " + " | ".join([label, *cells]) + " |")
    return lines


def primary_section(primary: dict[str, Any], ranker_file: str) -> str:
    results, families = primary["variants"], primary["families"]
    acc, training = primary["acceptance"], primary["training"]
    shipped = primary["shipped"]
    fixed = [n for n in results if not families[n].startswith("grid")]
    frontier_grid = [n for n in primary["frontier"] if families[n].startswith("grid")]
    stats = primary["test_pairs"]
    lines = [
        "## Primary comparison: one list of 5, without leaks (test users)",
        "",
        f"{primary['test_queries']} lists, one per next-click pair of a test user "
        f"({stats['pairs']} pairs). Popularity and co-reads are counted from train users' "
        "events only; entity and subcategory tags are ground truth only (no tag feeds the "
        "salient names; tag and entity overlap weigh 0). Both metrics on the same list of 5.",
        "",
        f"- Shipped: **{shipped}**, weights `{json.dumps(primary['learned'])}`, gate "
        f"`{json.dumps(primary['gate'])}`; {ranker_file}",
        f"- Best content-only variant: {acc['best_content_variant']}. Shipped nDCG@5 is "
        f"**{_fmt(acc['ndcg@5_ratio'], 2)}×** its nDCG@5 (target ≥ 3×) at "
        f"**{_fmt(acc['entity_p@5_ratio'] * 100, 1)}%** of its entity P@5 (target ≥ 95%).",
        "- Grid points over {" + ", ".join(acc["grid_signals"]) + "} that beat the shipped "
        "ranking on both axes: " + (", ".join(acc["dominated_by_grid"]) or "**none**") + ".",
        "",
        "![frontier_primary](frontier_primary.png)",
        "",
        *_table(results, fixed, shipped),
        "",
        f"The frontier's grid points ({len(frontier_grid)} of "
        f"{sum(f.startswith('grid') for f in families.values())}; every point is in "
        "metrics.json):",
        "",
        *_table(results, frontier_grid, shipped),
        "",
        "### How the shipped blend was chosen (train users only)",
        "",
        f"A gated linear blend: {training['model']}. Relevance weights "
        f"`{json.dumps(training['relevance_model']['weights'])}` (fitted on "
        f"{training['relevance_model']['rows']} candidate rows of train queries, entity tags "
        "as the label only); behaviour weights "
        f"`{json.dumps(training['behaviour_model']['weights'])}` (fitted on train users' next "
        f"clicks: {training['training_queries']} lists with the click among the candidates, "
        f"{training['training_rows']} rows; {training['target_not_in_candidates']} clicks "
        "outside the candidates; each fold's popularity and co-reads counted from the other "
        "fold's events). The gate share, the lift and the scale: "
        f"{training['selection_rule']} (best content-only on train: "
        f"{training['best_content_train']}, mean floor "
        f"{_fmt(training['entity_floor_train'])}) → **{training['chosen']}**.",
        "",
        "| train selection | nDCG@5 | Ent P@5 | Ent ratio, lower bound |",
        "|---|---|---|---|",
        *(
            f"| {'★ ' if v['chosen'] else ''}{name} | {_fmt(v['ndcg@5'])} | "
            f"{_fmt(v['entity_p@5'])} | {_fmt(v.get('entity_ratio_lower'))} |"
            for name, v in training["selection_train"].items()
        ),
        "",
    ]
    return "\n".join(lines) + "\n"
