"""Evaluation commands: score every ranking variant on click logs, learn the served blend."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from recommender.cli.common import fails_cleanly, out, progress_bars
from recommender.config import Settings

MIND_DIR = Path("../shared/data/mind-subset")


def _eval_setup(
    news: Path,
    behaviors: Path,
    model: str | None,
    seed: int,
    test_fraction: float,
    quick: bool,
    cache: Path,
    out_dir: Path,
) -> tuple[Any, Settings]:
    from recommender.evaluation.setup import EvalOptions

    settings = Settings()
    if model:
        settings = settings.model_copy(update={"model_name": model})
    options = EvalOptions(
        news=news,
        behaviors=behaviors,
        out=out_dir,
        seed=seed,
        test_fraction=test_fraction,
        quick=quick,
        cache_path=cache,
    )
    return options, settings


NewsOption = Annotated[Path, typer.Option(help="MIND news.tsv")]
BehaviorsOption = Annotated[Path, typer.Option(help="MIND behaviors.tsv")]
SeedOption = Annotated[int, typer.Option(help="seed of the user split and every sample")]
ModelOption = Annotated[
    str | None, typer.Option(help="embedding model (default: the settings' model)")
]
FractionOption = Annotated[float, typer.Option(min=0.01, max=0.99, help="share of test users")]
QuickOption = Annotated[bool, typer.Option(help="subsample pairs and impressions (tests)")]
CacheOption = Annotated[Path, typer.Option(help="SQLite embedding cache, reused between runs")]


@fails_cleanly
def evaluate(
    news: NewsOption = MIND_DIR / "news.tsv",
    behaviors: BehaviorsOption = MIND_DIR / "behaviors.tsv",
    out_dir: Annotated[Path, typer.Option("--out", help="report folder")] = Path("reports/mind"),
    seed: SeedOption = 42,
    model: ModelOption = None,
    test_fraction: FractionOption = 0.3,
    quick: QuickOption = False,
    cache: CacheOption = Path("var/eval-cache.db"),
) -> None:
    """Score every ranking variant on MIND click logs (time-respecting, train/test users) and
    write report.md, metrics.json and plots."""
    from recommender.evaluation.report import main_table, write_report
    from recommender.evaluation.run import run_evaluation

    options, settings = _eval_setup(
        news, behaviors, model, seed, test_fraction, quick, cache, out_dir
    )
    command = (
        f"recommender evaluate --news {news} --behaviors {behaviors} --out {out_dir} "
        f"--seed {seed} --test-fraction {test_fraction} --model {settings.model_name}"
        + (" --quick" if quick else "")
    )
    with progress_bars() as bars:
        result = run_evaluation(options, settings, bars)
    path = write_report(result, out_dir, command)
    out.print(main_table(result), markup=False, highlight=False, soft_wrap=True)
    acc = result["acceptance"]
    out.print(
        f"entity P@5 {acc['entity_p@5_ratio']:.1%} of {acc['best_content_variant']}; "
        f"next-click nDCG@10 {acc['next_click_ndcg@10_ratio']:.1%} of popularity; "
        f"report → {path} ({result['seconds']} s)",
        markup=False,
        highlight=False,
    )


@fails_cleanly
def train_ranker(
    news: NewsOption = MIND_DIR / "news.tsv",
    behaviors: BehaviorsOption = MIND_DIR / "behaviors.tsv",
    output: Annotated[Path | None, typer.Option(help="default: the settings' ranker path")] = None,
    seed: SeedOption = 42,
    model: ModelOption = None,
    test_fraction: FractionOption = 0.3,
    quick: QuickOption = False,
    cache: CacheOption = Path("var/eval-cache.db"),
) -> None:
    """Learn the Lees-ook blend from train users' next clicks and write models/ranker.json,
    which the service loads instead of the settings' weights."""
    from recommender.evaluation.run import write_trained_ranker
    from recommender.evaluation.selection import learn
    from recommender.evaluation.setup import SHIPPED, prepare

    options, settings = _eval_setup(
        news, behaviors, model, seed, test_fraction, quick, cache, Path(".")
    )
    with progress_bars() as bars:
        prep = prepare(options, settings, bars)
        learned = learn(prep, options, bars)
    path = output or settings.resolved_ranker_path
    write_trained_ranker(path, prep, learned, quick)
    out.print(f"wrote {path}: {learned.weights[SHIPPED]}", markup=False, highlight=False)
