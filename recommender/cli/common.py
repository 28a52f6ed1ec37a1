"""What every command shares: exit codes and one-line errors, JSON output, progress bars,
batch loading with a problem report, and a started service."""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from recommender.articles import RecordError, RecordWarning
from recommender.config import Settings
from recommender.errors import InvalidInput, RecommenderError
from recommender.logs import ProgressFactory

log = logging.getLogger(__name__)

out = Console()
err = Console(stderr=True, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])


class ExitCode(IntEnum):
    """What `recommender` exits with; scripts can tell these apart (README, `--help`)."""

    OK = 0
    RUNTIME_ERROR = 1  # the work failed: no usable index, a build already running, I/O
    USAGE_ERROR = 2  # bad option or argument, missing input file, invalid setting
    RECORDS_REJECTED = 3  # the file went in, but some records were rejected (reported)


class LogLevel(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


def fail(message: str, code: ExitCode) -> NoReturn:
    err.print(f"error: {message}", markup=False, highlight=False)
    raise typer.Exit(int(code))


def settings_problem(exc: ValidationError | SettingsError) -> str:
    """One line naming the environment variable(s) at fault."""
    if isinstance(exc, SettingsError):
        return f"configuration error: {exc}"
    parts = []
    for problem in exc.errors():
        where = ".".join(str(p) for p in problem.get("loc", ()))
        parts.append(f"RECOMMENDER_{where.upper()}: {problem.get('msg')}")
    return "configuration error: " + "; ".join(parts)


def fails_cleanly(command: F) -> F:
    """Map every failure to one line on stderr and a documented exit code (ExitCode)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except InvalidInput as exc:
            fail(str(exc), ExitCode.USAGE_ERROR)
        except RecommenderError as exc:
            fail(str(exc), ExitCode.RUNTIME_ERROR)
        except (ValidationError, SettingsError) as exc:
            fail(settings_problem(exc), ExitCode.USAGE_ERROR)
        except OSError as exc:
            fail(str(exc), ExitCode.RUNTIME_ERROR)
        except (typer.Exit, typer.Abort, click.ClickException):
            raise
        except Exception as exc:
            # a bug, not the user's doing: one line here, the traceback in the debug log
            log.debug("command.failed", exc_info=True)
            fail(
                f"unexpected {type(exc).__name__}: {exc} (--log-level DEBUG shows the traceback)",
                ExitCode.RUNTIME_ERROR,
            )

    return wrapper  # type: ignore[return-value]


def require_plotting(command: str) -> None:
    """matplotlib comes with the `report` extra; say so before any work is done."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        fail(
            f"{command} writes its plots with matplotlib, which is not installed: "
            "pip install 'recommender[report]'",
            ExitCode.USAGE_ERROR,
        )


def load_settings() -> Settings:
    """The settings from the environment; an invalid one is a usage error (see fails_cleanly)."""
    return Settings()


def emit_json(document: object) -> None:
    """One JSON document on stdout, for scripts (`--json`)."""
    sys.stdout.write(json.dumps(document, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


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


def read_only_service(settings: Settings) -> Any:
    """A started service for commands that only read (`related`, `popular`): the embedding
    model is loaded only when the store holds articles the saved index lacks, so a list comes
    back in about a second instead of the ten a model load takes."""
    from recommender.artifacts import current_manifest
    from recommender.embedding import DeferredEmbedder
    from recommender.service import RecommenderService

    manifest = current_manifest(settings.index_root) or {}
    dim = manifest.get("dimension")
    embedder = None
    if manifest.get("model") == settings.model_name and isinstance(dim, int):
        embedder = DeferredEmbedder(settings, dim)
    service = RecommenderService(settings, embedder)
    service.start(ready_for_writes=False)  # nor the language identifier, unless it must analyse
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
