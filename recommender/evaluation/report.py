"""The evaluation report: report.md (tables, the chosen variant marked), metrics.json and PNG
plots (drawn by recommender.charts)."""

from __future__ import annotations

import json
import math
from importlib.resources import files
from pathlib import Path
from string import Template
from typing import Any

from recommender import charts
from recommender.evaluation.report_primary import primary_section

LEES_COLUMNS = (
    ("ndcg@10", "nDCG@10"),
    ("recall@4", "R@4"),
    ("recall@10", "R@10"),
    ("mrr@10", "MRR@10"),
    ("entity_p@4", "Ent P@4"),
    ("entity_p@5", "Ent P@5"),
    ("subcat_p@4", "Sub P@4"),
    ("subcat_p@5", "Sub P@5"),
    ("coverage", "Cov"),
    ("diversity", "ILD"),
    ("novelty", "Novelty"),
    ("age_hours", "Age h"),
    ("older_than_log", "Older"),
)
IMPRESSION_COLUMNS = (("auc", "AUC"), ("mrr", "MRR"), ("ndcg@5", "nDCG@5"), ("ndcg@10", "nDCG@10"))


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{float(value):.{digits}f}"


def main_table(result: dict[str, Any]) -> str:
    """Lees ook on test users, one row per variant; the shipped one marked ★."""
    shipped = result["shipped"]
    head = ["variant", "MMR", *(label for _, label in LEES_COLUMNS)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, values in result["lees_ook"].items():
        info = result["variants"][name]
        mmr = "yes" if info["mmr"] and info["kind"] == "blend" else "no"
        if info["kind"] != "blend":
            mmr = "n/a"
        label = f"**★ {name}**" if name == shipped else name
        cells = [
            _fmt(values.get(key), 1 if key in ("novelty", "age_hours") else 3)
            for key, _ in LEES_COLUMNS
        ]
        lines.append("| " + " | ".join([label, mmr, *cells]) + " |")
    return "\n".join(lines)


def impression_table(rows: dict[str, dict[str, float]], marked: str | None = None) -> str:
    head = ["variant", *(label for _, label in IMPRESSION_COLUMNS), "impressions"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, values in rows.items():
        label = f"**★ {name}**" if marked and name == marked else name
        cells = [_fmt(values.get(key)) for key, _ in IMPRESSION_COLUMNS]
        lines.append(
            "| " + " | ".join([label, *cells, str(int(values.get("impressions", 0)))]) + " |"
        )
    return "\n".join(lines)


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else round(value, 5)
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


TEMPLATE = "report_template.md"


def write_report(result: dict[str, Any], folder: Path, command: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.json").write_text(json.dumps(_clean(result), indent=1) + "\n")
    plots = write_plots(result, folder)
    template = Template(files("recommender.evaluation").joinpath(TEMPLATE).read_text("utf-8"))
    path = folder / "report.md"
    path.write_text(template.substitute(report_values(result, command, plots)))
    return path


def report_values(result: dict[str, Any], command: str, plots: list[Path]) -> dict[str, Any]:
    """The values the report template names: its prose lives in report_template.md."""
    acc, data, options = result["acceptance"], result["data"], result["options"]
    ranker = result.get("ranker_file", {"path": "models/ranker.json", "matches": False})
    training, pairs = result["training"], result["test_pairs"]
    pn = result["impressions"]["populair_nieuws"]
    portable = training.get("without_entities")
    boost_rows: dict[str, dict[str, float]] = dict(training.get("selection_train", {}))
    why = why_not(result)
    shipped_pop = next(name for name in pn if name.endswith("(chosen)"))
    return {
        **{key: data[key] for key in DATA_KEYS},
        **{key: pairs[key] for key in PAIR_KEYS},
        "command": command,
        "seed": options["seed"],
        "model": options["model"],
        "list_k": options["list_k"],
        "mmr_lambda": options["mmr_lambda"],
        "popular_candidates": options["popular_candidates"],
        "settings_half_life": f"{options['settings_half_life_hours']:g}",
        "main_table": main_table(result),
        "shipped": result["shipped"],
        "best_content_variant": acc["best_content_variant"],
        "entity_ratio": _fmt(acc["entity_p@5_ratio"] * 100, 1),
        "click_ratio": _fmt(acc["next_click_ndcg@10_ratio"] * 100, 1),
        "dominated_by": ", ".join(acc["dominated_by_fixed_blends"]) or "none",
        "shipped_pop": shipped_pop,
        "populair_beats": "yes" if acc["populair_nieuws_beats_alltime_and_random"] else "no",
        "why_not": "\n".join(why) + "\n" if why else "",
        "half_life": f"{result['half_life_hours']:g}",
        "training_queries": training["training_queries"],
        "training_rows": training["training_rows"],
        "method": training.get("method"),
        "topical_boost": f"{training.get('topical_boost', 0):g}",
        "topical_direction": training.get("topical_direction"),
        "half_life_table": impression_table(result["half_life_train"]),
        "boost_rows": "".join(
            f"| {'★ ' if v.get('chosen') else ''}{name} | {_fmt(v.get('ndcg@10'))} | "
            f"{_fmt(v.get('entity_p@5'))} |\n"
            for name, v in boost_rows.items()
        ),
        "shipped_weights": json.dumps(result["weights"].get(result["shipped"], {})),
        "portable_weights": json.dumps(result["weights"].get("learned (no entities)", {})),
        "portable_training": f" (train: {portable.get('method')}, α = "
        f"{portable.get('topical_boost', 0):g} × similarity)."
        if portable
        else ".",
        "populair_table": impression_table(pn, shipped_pop),
        "context_table": impression_table(
            result["impressions"]["lees_ook_context"], result["shipped"]
        ),
        "plots": "".join(f"![{p.stem}]({p.name})\n" for p in plots),
        "primary_section": primary_section(
            result["primary"], f"`{ranker['path']}` {ranker_state(ranker)}"
        ),
        "seconds": result["seconds"],
    }


DATA_KEYS = (
    "fingerprint",
    "articles_with_text",
    "impressions",
    "users",
    "train_users",
    "test_users",
    "history_clicks_with_text",
    "history_clicks",
    "impressed_items_with_text",
    "impressed_items",
    "impression_clicks_with_text",
    "impression_clicks",
)
PAIR_KEYS = ("pairs", "pairs_from_history", "pairs_from_impressions", "pairs_adjacent")


def why_not(result: dict[str, Any]) -> list[str]:
    """When the two targets are not both met: the frontier explains why (see frontier.png)."""
    acc = result["acceptance"]
    if acc["entity_target_met"] and acc["click_target_met"]:
        return []
    pairs = result["test_pairs"]
    total = max(1, pairs["pairs"])
    pop = result["lees_ook"]["popularity"]

    def share(key: str) -> str:
        return f"{pairs.get(key, 0)} ({pairs.get(key, 0) / total:.1%})"

    return [
        "### Why both targets are not met at once",
        "",
        "The data does not support it for a linear blend. Of the test next-click pairs, the "
        f"article read next shares a Wikidata entity with A in {share('target_shares_entity')}, "
        f"has A's subcategory in {share('target_same_subcategory')} and A's section in "
        f"{share('target_same_section')}, while the 10 most popular "
        f"articles hold {_fmt(pop.get('recall@10'))} of next clicks. Every top-5 slot that goes to "
        "an entity-sharing article is a slot the next click almost never lands in, so topical "
        "precision is paid for in next-click nDCG (frontier.png). The shipped "
        "ranking is the point of that frontier chosen on train users: the best next-click "
        "nDCG@10 that keeps ≥ 90% of the best content-only entity precision@5 (the topical "
        "target is the constraint, as a Lees-ook block that is not about the article fails "
        "its purpose).",
        "",
        "No fixed blend of the grid beats it on both axes."
        if not acc["dominated_by_fixed_blends"]
        else "Fixed blends that beat it on both axes: "
        + ", ".join(acc["dominated_by_fixed_blends"]),
        "",
    ]


def ranker_state(ranker: dict[str, Any]) -> str:
    if ranker["matches"]:
        return "holds exactly this blend."
    return "is absent or holds another blend: run `recommender train-ranker --install`."


def write_plots(result: dict[str, Any], folder: Path) -> list[Path]:
    charts.primary_frontier_plot(result["primary"], folder)  # shown in the primary section
    return [charts.frontier_plot(result, folder), charts.variant_bars(result, folder)]
