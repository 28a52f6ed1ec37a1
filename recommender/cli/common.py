"""What every command shares: one-line errors, progress bars, batch loading with a problem
report, and a started service."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from recommender.articles import RecordError, RecordWarning
from recommender.config import Settings
from recommender.errors import RecommenderError
from recommender.logs import ProgressFactory

out = Console()
err = Console(stderr=True, soft_wrap=True)

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


@contextmanager
def progress_bars() -> Iterator[ProgressFactory]:
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


def started_service(settings: Settings) -> Any:
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
