"""Evaluation commands: score every ranking variant on click logs, learn the served blend."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from recommender.cli.common import (
    ExitCode,
    fail,
    fails_cleanly,
    load_settings,
    out,
    progress_bars,
    require_plotting,
)
from recommender.config import Settings


def _data_paths(
    settings: Settings, data: Path | None, news: Path | None, behaviors: Path | None
) -> tuple[Path, Path]:
    """news.tsv and behaviors.tsv from --news/--behaviors, else from --data or the setting
    RECOMMENDER_EVAL_DATA_DIR; with none of these it is a usage error, not a guess."""
    folder = data or settings.eval_data_dir
    if folder is None and (news is None or behaviors is None):
        fail(
            "no evaluation data: pass --data DIR (a MIND folder with news.tsv and "
            "behaviors.tsv), or --news and --behaviors, or set RECOMMENDER_EVAL_DATA_DIR",
            ExitCode.USAGE_ERROR,
        )
    return (
        news or Path(str(folder)) / "news.tsv",
        behaviors or Path(str(folder)) / "behaviors.tsv",
    )


def _eval_setup(
    news: Path,
    behaviors: Path,
    model: str | None,
    seed: int,
    test_fraction: float,
    quick: bool,
    cache: Path | None,
    out_dir: Path,
    settings: Settings,
) -> tuple[Any, Settings]:
    from recommender.evaluation.setup import EvalOptions

    if model:
        settings = settings.model_copy(update={"model_name": model})
    options = EvalOptions(
        news=news,
        behaviors=behaviors,
        out=out_dir,
        seed=seed,
        test_fraction=test_fraction,
        quick=quick,
        cache_path=cache or settings.eval_cache_path,
    )
    return options, settings


DataOption = Annotated[
    Path | None,
    typer.Option(help="MIND folder with news.tsv and behaviors.tsv [RECOMMENDER_EVAL_DATA_DIR]"),
]
NewsOption = Annotated[Path | None, typer.Option(help="MIND news.tsv (default: in --data)")]
BehaviorsOption = Annotated[
    Path | None, typer.Option(help="MIND behaviors.tsv (default: in --data)")
]
SeedOption = Annotated[int, typer.Option(help="seed of the user split and every sample")]
ModelOption = Annotated[
    str | None, typer.Option(help="embedding model (default: the settings' model)")
]
FractionOption = Annotated[float, typer.Option(min=0.01, max=0.99, help="share of test users")]
QuickOption = Annotated[bool, typer.Option(help="subsample pairs and impressions (tests)")]
CacheOption = Annotated[
    Path | None,
    typer.Option(help="SQLite embedding cache, reused between runs [<DATA_DIR>/eval-cache.db]"),
]


@fails_cleanly
def evaluate(
    data: DataOption = None,
    news: NewsOption = None,
    behaviors: BehaviorsOption = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="report folder [<REPORTS_DIR>/mind]")
    ] = None,
    seed: SeedOption = 42,
    model: ModelOption = None,
    test_fraction: FractionOption = 0.3,
    quick: QuickOption = False,
    cache: CacheOption = None,
) -> None:
    """Score every ranking variant on MIND click logs (time-respecting, train/test users) and
    write report.md, metrics.json and plots (needs the `report` extra: matplotlib)."""
    require_plotting("evaluate")
    from recommender.evaluation.report import main_table, write_report
    from recommender.evaluation.run import run_evaluation

    settings = load_settings()
    news, behaviors = _data_paths(settings, data, news, behaviors)
    out_dir = out_dir or settings.reports_dir / "mind"
    options, settings = _eval_setup(
        news, behaviors, model, seed, test_fraction, quick, cache, out_dir, settings
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
    data: DataOption = None,
    news: NewsOption = None,
    behaviors: BehaviorsOption = None,
    output: Annotated[
        Path | None, typer.Option(help="where to write it [<REPORTS_DIR>/ranker.json]")
    ] = None,
    install: Annotated[
        bool,
        typer.Option(
            "--install",
            help="write it where the service reads it (RECOMMENDER_RANKER_PATH): the next "
            "server start ranks with it",
        ),
    ] = False,
    seed: SeedOption = 42,
    model: ModelOption = None,
    test_fraction: FractionOption = 0.3,
    quick: QuickOption = False,
    cache: CacheOption = None,
) -> None:
    """Learn the Lees-ook blend from train users' next clicks and write a ranker file. The
    served one (models/ranker.json) is replaced only with --install."""
    from recommender.evaluation.primary_run import run_primary, write_trained_ranker
    from recommender.evaluation.selection import choose_half_life
    from recommender.evaluation.setup import prepare

    if install and output is not None:
        fail("pass either --output or --install, not both", ExitCode.USAGE_ERROR)
    settings = load_settings()
    news, behaviors = _data_paths(settings, data, news, behaviors)
    options, settings = _eval_setup(
        news, behaviors, model, seed, test_fraction, quick, cache, Path("."), settings
    )
    path = (
        settings.resolved_ranker_path if install else output or settings.reports_dir / "ranker.json"
    )
    with progress_bars() as bars:
        prep = prepare(options, settings, bars)
        half_life, _ = choose_half_life(prep, options, bars)
        primary = run_primary(prep, options, half_life, bars)
    write_trained_ranker(path, prep, half_life, primary, quick)
    out.print(f"wrote {path}: {primary['learned']}", markup=False, highlight=False)
