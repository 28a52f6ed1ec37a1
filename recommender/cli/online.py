"""`recommender report ctr`: click-through of the live blocks from the served-list log and the
event log, as a Markdown report with plots (works while the server runs)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from recommender.cli.common import fails_cleanly, load_settings, out, require_plotting
from recommender.errors import InvalidInput

report = typer.Typer(no_args_is_help=True, help="Reports from the live service's logs.")


@report.command("ctr")
@fails_cleanly
def ctr(
    days: Annotated[float, typer.Option(help="look back this many days")] = 14.0,
    out_dir: Annotated[Path, typer.Option("--out", help="report folder")] = Path("reports/ctr"),
) -> None:
    """Click-through per block, position, variant, section and day, with the A/B verdict under
    the rule in the settings: report.md, ctr.json and two PNG plots."""
    from recommender.online.report import BLOCK_NAMES, write_ctr_report
    from recommender.online.stats import rule_of, variants_of, window_stats
    from recommender.store import open_served_log, open_store

    if not 0 < days <= 366:
        raise InvalidInput(f"--days must be in (0, 366], got {days:g}")
    require_plotting("report ctr")
    settings = load_settings()
    store, served = open_store(settings), open_served_log(settings)
    try:
        stats = window_stats(
            served,
            store,
            variants_of(settings),
            rule_of(settings),
            settings.experiment,
            days,
            time.time(),
        )
    finally:
        served.close()
        store.close()
    path = write_ctr_report(stats, out_dir, f"recommender report ctr --days {days:g}")
    for kind, block in stats["blocks"].items():
        total, verdict = block["total"], block.get("experiment")
        winner = f"; winner {verdict['winner'] or 'none yet'}" if verdict else ""
        ctr_text = "–" if total["ctr"] is None else f"{total['ctr']:.2%}"
        out.print(
            f"{BLOCK_NAMES.get(kind, kind)}: CTR {ctr_text} ({total['clicked']} of "
            f"{total['seen']} seen, {total['served']} served){winner}",
            markup=False,
            highlight=False,
        )
    out.print(f"report → {path}", markup=False, highlight=False)
