"""`recommender ingest | build | serve | import-events | compact-events | related | popular | demo |
evaluate | train-ranker | settings | report | tune | activate-model | tuned-models`.

\b
Exit codes (scripts can tell them apart):
  0  done
  1  runtime error: no usable index, a build already running, I/O, a bug
  2  usage or configuration error: bad option or argument, missing input file, invalid
     RECOMMENDER_* setting
  3  some records were rejected (each reported with its line number); the rest went in;
     `tune --activate`: the tuned model did not improve and was not made current
"""

from __future__ import annotations

from typing import Annotated

import typer

from recommender import __version__, logs
from recommender.cli import data, evaluation, online, reference, serving, tuning
from recommender.cli.common import LogLevel, out

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


def _print_version(value: bool) -> None:
    if value:
        out.print(f"recommender {__version__}", markup=False, highlight=False)
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    log_level: Annotated[
        LogLevel | None,
        typer.Option(case_sensitive=False, help="default WARNING (INFO for serve)"),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="print the version and exit"
        ),
    ] = False,
) -> None:
    ctx.obj = {"log_level": log_level}
    logs.configure((log_level or LogLevel.WARNING).value)


# registered in this order, which is the order `--help` lists them in
app.command()(data.ingest)
app.command()(data.build)
app.command()(serving.serve)
app.command("import-events")(data.import_events)
app.command("compact-events")(data.compact_events)
app.command()(serving.related)
app.command()(serving.popular)
app.command()(data.demo)
app.command()(evaluation.evaluate)
app.command("train-ranker")(evaluation.train_ranker)
app.command("settings")(reference.settings_table)
app.add_typer(online.report, name="report")
app.command()(tuning.tune)
app.command("activate-model")(tuning.activate_model)
app.command("tuned-models")(tuning.tuned_models)
