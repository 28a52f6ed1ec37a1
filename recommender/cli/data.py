"""Data commands: ingest articles, import events, build the index, load the demo."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from recommender.articles import read_articles
from recommender.cli.common import (
    ExitCode,
    Loaded,
    emit_json,
    err,
    fails_cleanly,
    load_in_batches,
    load_settings,
    out,
    progress_bars,
    report_problems,
)
from recommender.events import read_events
from recommender.store import open_store

JsonOption = Annotated[bool, typer.Option("--json", help="print one JSON document (scripts)")]


def _finish_load(file: Path, loaded: Loaded, done: str, as_json: bool) -> None:
    """Report a file load (problems on stderr, the summary on stdout); exit code 3 when some
    records were rejected."""
    report_problems(file, loaded)
    if as_json:
        emit_json(
            {
                "file": str(file),
                "accepted": loaded.accepted,
                "rejected": [{"line": p.line, "message": p.message} for p in loaded.rejected],
                "repaired": [{"line": w.line, "message": w.message} for w in loaded.warnings],
            }
        )
    else:
        summary = done.format(loaded.accepted) + f" from {file}; rejected {len(loaded.rejected)}"
        out.print(summary + (f"; repaired {len(loaded.warnings)}" if loaded.warnings else ""))
    if loaded.rejected:
        raise typer.Exit(int(ExitCode.RECORDS_REJECTED))


@fails_cleanly
def ingest(
    file: Annotated[Path, typer.Argument(help="JSONL, CSV or MIND news.tsv")],
    fmt: Annotated[str, typer.Option("--format", help="auto, jsonl, csv or mind")] = "auto",
    as_json: JsonOption = False,
) -> None:
    """Load articles into the store (then run `build`). Bad records are reported with their
    line number; the rest still go in; exit code 3 if any was rejected."""
    settings = load_settings()
    store = open_store(settings)
    try:
        loaded = load_in_batches(read_articles(file, fmt), store.upsert_articles, 1_000)
    finally:
        store.close()
    _finish_load(file, loaded, "ingested {} articles", as_json)


@fails_cleanly
def build(as_json: JsonOption = False) -> None:
    """Full rebuild of the vector index from the store into a new folder, then an atomic switch.
    Embeddings of unchanged articles come from the cache."""
    from recommender.build import build_index
    from recommender.embedding import create_embedder

    settings = load_settings()
    store = open_store(settings)
    try:
        embedder = create_embedder(settings)
        with progress_bars() as bars:
            result = build_index(settings, store, embedder, bars)
    finally:
        store.close()
    if as_json:
        emit_json(
            {
                "folder": str(result.folder),
                "kind": result.kind,
                "count": result.count,
                "reused": result.reused,
                "embedded": result.embedded,
                "seconds": round(result.seconds, 3),
            }
        )
        return
    out.print(
        f"built {result.kind} index of {result.count} articles in {result.seconds:.1f}s "
        f"(reused {result.reused} cached embeddings, embedded {result.embedded}) → {result.folder}"
    )
    out.print(
        "a running server swaps it in within RECOMMENDER_INDEX_POLL_SECONDS "
        f"({settings.index_poll_seconds:g}s), or at once with POST /v1/admin/reload"
    )


@fails_cleanly
def import_events(
    file: Annotated[
        Path, typer.Argument(help="CSV (ts,type,article_id,...) or MIND behaviors.tsv")
    ],
    fmt: Annotated[str, typer.Option("--format", help="auto, csv or mind")] = "auto",
    as_json: JsonOption = False,
) -> None:
    """Bootstrap popularity from an event log (a running server counts them after a restart).
    Bad rows are reported with their line number; exit code 3 if any was rejected."""
    settings = load_settings()
    store = open_store(settings)
    # with shared counters, the running replicas count imported events (marked uncounted)
    counted = settings.redis_url is None
    try:
        loaded = load_in_batches(
            read_events(file, fmt), lambda batch: store.add_events(batch, counted), 10_000
        )
    finally:
        store.close()
    _finish_load(file, loaded, "imported {} events", as_json)


@fails_cleanly
def compact_events(as_json: JsonOption = False) -> None:
    """Move raw events older than RECOMMENDER_EVENT_RETENTION_DAYS into per-article hourly
    aggregates, one transaction per batch (safe to interrupt and run again; a running server
    does this every RECOMMENDER_COMPACTION_INTERVAL_SECONDS). Exit code 0 also when nothing was
    old enough; 1 when the database cannot take writes."""
    from recommender.service.compaction import compact_events as compact

    settings = load_settings()
    store = open_store(settings)
    try:
        result = compact(store, settings, progress=lambda n: err.print(f"compacted {n} events"))
        left = store.count_events()
    finally:
        store.close()
    if as_json:
        emit_json(
            {
                "compacted": result.moved,
                "batches": result.batches,
                "before_ts": result.before_ts,
                "events_left": left,
                "seconds": round(result.seconds, 3),
            }
        )
        return
    out.print(
        f"compacted {result.moved} events from before {result.before_ts:.0f} into hourly"
        f" aggregates in {result.seconds:.1f}s; {left} raw events left"
    )


@fails_cleanly
def demo() -> None:
    """Load the demo corpus and a generated click log, then build the index."""
    from recommender.build import build_index
    from recommender.demo import demo_articles, demo_click_log, write_events_csv
    from recommender.embedding import create_embedder

    settings = load_settings()
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
