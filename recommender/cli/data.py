"""Data commands: ingest articles, import events, build the index, load the demo."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from recommender.articles import read_articles
from recommender.cli.common import (
    fails_cleanly,
    load_in_batches,
    out,
    progress_bars,
    report_problems,
)
from recommender.config import Settings
from recommender.events import read_events
from recommender.store import open_store


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
    # with shared counters, the running replicas count imported events (marked uncounted)
    counted = settings.redis_url is None
    loaded = load_in_batches(
        read_events(file, fmt), lambda batch: store.add_events(batch, counted), 10_000
    )
    store.close()
    report_problems(file, loaded)
    out.print(f"imported {loaded.accepted} events from {file}; rejected {len(loaded.rejected)}")
    if loaded.rejected:
        raise typer.Exit(2)


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
