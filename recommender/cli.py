"""`recommender ingest | build | serve | import-events | related | popular | demo`.

Errors a user can cause end in one line on stderr and exit code 2.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from recommender import logs
from recommender.articles import RecordError, RecordWarning, read_articles
from recommender.config import Settings
from recommender.errors import RecommenderError
from recommender.events import read_events
from recommender.ranking import RankedList
from recommender.store import open_store

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
out = Console()
err = Console(stderr=True, soft_wrap=True)
log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


def fails_cleanly(command: F) -> F:
    """Map our named errors to one line on stderr and exit code 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except RecommenderError as exc:
            err.print(f"error: {exc}", markup=False, highlight=False)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


@app.callback()
def main(log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING")] = "WARNING") -> None:
    logs.configure(log_level)


@contextmanager
def progress_bars() -> Iterator[Callable[[str, int], Callable[[int], None]]]:
    """A factory of rich progress bars: factory(label, total) returns an advance(n) function."""
    with Progress(
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    ) as progress:

        def factory(label: str, total: int) -> Callable[[int], None]:
            task = progress.add_task(label, total=total)
            return lambda n: progress.advance(task, n)

        yield factory


def _service(settings: Settings) -> Any:
    from recommender.service import RecommenderService

    service = RecommenderService(settings)
    service.start()
    return service


T = TypeVar("T")


@dataclass
class Loaded:
    accepted: int = 0
    rejected: list[RecordError] = field(default_factory=list)
    warnings: list[RecordWarning] = field(default_factory=list)


def load_in_batches(
    items: Iterable[tuple[int, T | RecordError | RecordWarning]],
    write: Callable[[list[T]], object],
    batch_size: int,
) -> Loaded:
    """Write the good records in batches; keep the bad ones (with line numbers) to report."""
    loaded = Loaded()
    batch: list[T] = []
    for _, item in items:
        if isinstance(item, RecordError):
            loaded.rejected.append(item)
        elif isinstance(item, RecordWarning):
            loaded.warnings.append(item)
        else:
            batch.append(item)
            if len(batch) >= batch_size:
                write(batch)
                loaded.accepted += len(batch)
                batch = []
    if batch:
        write(batch)
        loaded.accepted += len(batch)
    return loaded


def report_problems(file: Path, loaded: Loaded) -> None:
    for warning in loaded.warnings[:20]:
        err.print(
            f"{file}:{warning.line}: warning: {warning.message}", markup=False, highlight=False
        )
    for problem in loaded.rejected[:50]:
        err.print(f"{file}:{problem.line}: {problem.message}", markup=False, highlight=False)


@app.command()
@fails_cleanly
def ingest(
    file: Annotated[Path, typer.Argument(help="JSONL, CSV or MIND news.tsv")],
    fmt: Annotated[str, typer.Option("--format", help="auto, jsonl, csv or mind")] = "auto",
) -> None:
    """Load articles into the store (then run `build`). Bad records are reported with their
    line number; the rest still go in; exit code 2 if any was rejected."""
    settings = Settings()
    store = open_store(settings)
    loaded = load_in_batches(read_articles(file, fmt), store.upsert_articles, 1_000)
    store.close()
    report_problems(file, loaded)
    out.print(
        f"ingested {loaded.accepted} articles from {file}; rejected {len(loaded.rejected)}; "
        f"repaired {len(loaded.warnings)}"
    )
    if loaded.rejected:
        raise typer.Exit(2)


@app.command()
@fails_cleanly
def build() -> None:
    """Full rebuild of the vector index from the store into a new folder, then an atomic switch.
    Embeddings of unchanged articles come from the cache."""
    from recommender.build import build_index
    from recommender.embedding import create_embedder

    settings = Settings()
    store = open_store(settings)
    embedder = create_embedder(settings)
    try:
        with progress_bars() as bars:
            result = build_index(settings, store, embedder, bars)
    finally:
        store.close()
    out.print(
        f"built {result.kind} index of {result.count} articles in {result.seconds:.1f}s "
        f"(reused {result.reused} cached embeddings, embedded {result.embedded}) → {result.folder}"
    )
    out.print(
        "a running server swaps it in within RECOMMENDER_INDEX_POLL_SECONDS "
        f"({settings.index_poll_seconds:g}s), or at once with POST /v1/admin/reload"
    )


@app.command()
@fails_cleanly
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
) -> None:
    """Run the HTTP API. A new index written by `recommender build` is picked up by polling
    models/index/CURRENT (RECOMMENDER_INDEX_POLL_SECONDS) or POST /v1/admin/reload."""
    import uvicorn

    from recommender.api import create_app
    from recommender.service import RecommenderService

    logs.configure("INFO")
    settings = Settings()
    # start here, not in the ASGI lifespan: a missing or corrupt index must end in one line on
    # stderr and exit code 2, not in uvicorn's start-up traceback
    service = RecommenderService(settings)
    try:
        service.start()
        uvicorn.run(
            create_app(settings, service),
            host=host,
            port=port,
            log_config=None,
            access_log=False,
        )
    finally:
        service.close()


@app.command("import-events")
@fails_cleanly
def import_events(
    file: Annotated[
        Path, typer.Argument(help="CSV (ts,type,article_id,...) or MIND behaviors.tsv")
    ],
    fmt: Annotated[str, typer.Option("--format", help="auto, csv or mind")] = "auto",
) -> None:
    """Bootstrap popularity from an event log."""
    settings = Settings()
    store = open_store(settings)
    loaded = load_in_batches(read_events(file, fmt), store.add_events, 10_000)
    store.close()
    report_problems(file, loaded)
    out.print(f"imported {loaded.accepted} events from {file}; rejected {len(loaded.rejected)}")
    if loaded.rejected:
        raise typer.Exit(2)


def _print_list(ranked: RankedList, title: str) -> None:
    table = Table(title=title + (" (fallback: popular)" if ranked.fallback else ""))
    for column in ("#", "id", "section", "score", "title"):
        table.add_column(column)
    for position, item in enumerate(ranked.items, start=1):
        table.add_row(
            str(position),
            item.card.id,
            item.card.section or "",
            f"{item.score:.3f}",
            item.card.title,
        )
    out.print(table)


@app.command()
@fails_cleanly
def related(
    article_id: str,
    k: Annotated[int, typer.Option(min=1, max=100)] = 4,
    section: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Print the Lees-ook list of an article."""
    service = _service(Settings())
    card = service.card(article_id)
    _print_list(
        service.related(article_id, k, section=section),
        f"related to {card.title if card else article_id}",
    )


@app.command()
@fails_cleanly
def popular(
    k: Annotated[int, typer.Option(min=1, max=100)] = 6,
    section: Annotated[str | None, typer.Option()] = None,
    window: Annotated[str, typer.Option(help="decayed, trending or alltime")] = "decayed",
    context: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Print the Populair-nieuws list."""
    service = _service(Settings())
    _print_list(service.popular(k, section=section, window=window, context=context), "popular")


@app.command()
@fails_cleanly
def demo() -> None:
    """Load the demo corpus and a generated click log, then build the index."""
    from recommender.build import build_index
    from recommender.demo import demo_articles, demo_click_log, write_events_csv
    from recommender.embedding import create_embedder

    settings = Settings()
    store = open_store(settings)
    articles = demo_articles()
    store.upsert_articles(articles)
    if store.count_events() == 0:
        events = demo_click_log(articles)
        store.add_events(events)
        write_events_csv(events, settings.data_dir / "demo-clicks.csv")
    embedder = create_embedder(settings)
    with progress_bars() as bars:
        result = build_index(settings, store, embedder, bars)
    out.print(
        f"demo: {len(articles)} articles, {store.count_events()} events, index {result.folder}"
    )
    store.close()


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
    from recommender.evaluation.run import EvalOptions

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


@app.command()
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


@app.command("train-ranker")
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
    from recommender.evaluation.run import SHIPPED, learn, prepare, write_trained_ranker

    options, settings = _eval_setup(
        news, behaviors, model, seed, test_fraction, quick, cache, Path(".")
    )
    with progress_bars() as bars:
        prep = prepare(options, settings, bars)
        learned = learn(prep, options, bars)
    path = output or settings.resolved_ranker_path
    write_trained_ranker(path, prep, learned, quick)
    out.print(f"wrote {path}: {learned.weights[SHIPPED]}", markup=False, highlight=False)
