"""`recommender ingest | build | serve | import-events | related | popular | demo | evaluate |
train-ranker | tune | activate-model | tuned-models`.

Errors a user can cause end in one line on stderr and exit code 2 (`tune --activate` exits 3
when the tuned model did not improve and was not made current).
"""

from __future__ import annotations

from typing import Annotated

import typer

from recommender import logs
from recommender.cli import data, evaluation, serving, tuning

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


@app.callback()
def main(log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING")] = "WARNING") -> None:
    logs.configure(log_level)


# registered in this order, which is the order `--help` lists them in
app.command()(data.ingest)
app.command()(data.build)
app.command()(serving.serve)
app.command("import-events")(data.import_events)
app.command()(serving.related)
app.command()(serving.popular)
app.command()(data.demo)
app.command()(evaluation.evaluate)
app.command("train-ranker")(evaluation.train_ranker)
app.command()(tuning.tune)
app.command("activate-model")(tuning.activate_model)
app.command("tuned-models")(tuning.tuned_models)
