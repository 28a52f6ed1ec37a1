"""Serving commands: run the HTTP API, print a Lees-ook or Populair list."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.table import Table

from recommender import logs
from recommender.cli.common import (
    ExitCode,
    LogLevel,
    emit_json,
    fail,
    fails_cleanly,
    load_settings,
    out,
    read_only_service,
)
from recommender.ranking import RankedList


class Window(StrEnum):
    """The popularity windows (recommender.popularity.WINDOWS); an unknown one is a usage
    error, as the API answers 422 for it."""

    DECAYED = "decayed"
    TRENDING = "trending"
    ALLTIME = "alltime"


JsonOption = Annotated[bool, typer.Option("--json", help="print one JSON document (scripts)")]


@fails_cleanly
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    log_level: Annotated[
        LogLevel | None,
        typer.Option(case_sensitive=False, help="default: the global --log-level, else INFO"),
    ] = None,
    workers: Annotated[
        int, typer.Option(min=1, help="processes; more than 1 needs RECOMMENDER_REDIS_URL")
    ] = 1,
) -> None:
    """Run the HTTP API. A new index written by `recommender build` is picked up by polling
    models/index/CURRENT (RECOMMENDER_INDEX_POLL_SECONDS) or POST /v1/admin/reload."""
    import uvicorn

    from recommender.api import create_app
    from recommender.service import RecommenderService

    chosen = log_level or (ctx.obj or {}).get("log_level") or LogLevel.INFO
    logs.configure(chosen.value)
    settings = load_settings()
    if workers > 1 and settings.redis_url is None:
        # without Redis each process would count its own clicks and miss the others' articles
        fail(
            "--workers above 1 needs RECOMMENDER_REDIS_URL (shared popularity)",
            ExitCode.USAGE_ERROR,
        )
    # start here, not in the ASGI lifespan: a missing or corrupt index must end in one line on
    # stderr and a documented exit code, not in uvicorn's start-up traceback
    service = RecommenderService(settings)
    try:
        service.start()
        if workers == 1:
            uvicorn.run(
                create_app(settings, service),
                host=host,
                port=port,
                log_config=None,
                # the app writes its own access log (JSON, with the request id)
                access_log=False,
                log_level=chosen.value.lower(),
            )
            return
    finally:
        service.close()
    # each worker process loads its own service; the one above only checked that it loads
    uvicorn.run(
        "recommender.api.app:app_from_environment",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        log_level=chosen.value.lower(),
    )


def list_document(ranked: RankedList) -> dict[str, Any]:
    """The list as `--json` prints it: the API's shape."""
    return {
        "recommendation_id": ranked.recommendation_id,
        "kind": ranked.kind,
        "fallback": ranked.fallback,
        "items": [
            {
                "id": item.card.id,
                "url": item.card.url,
                "title": item.card.title,
                "section": item.card.section,
                "image": item.card.image,
                "published_at": (
                    datetime.fromtimestamp(item.card.published_ts, UTC).isoformat()
                    if item.card.published_ts
                    else None
                ),
                "score": round(item.score, 6),
            }
            for item in ranked.items
        ],
    }


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


@fails_cleanly
def related(
    article_id: str,
    k: Annotated[int, typer.Option(min=1, max=100)] = 4,
    section: Annotated[str | None, typer.Option()] = None,
    as_json: JsonOption = False,
) -> None:
    """Print the Lees-ook list of an article (from the saved index; the model is not loaded)."""
    service = read_only_service(load_settings())
    try:
        ranked = service.related(article_id, k, section=section)
        card = service.card(article_id)
    finally:
        service.close()
    if as_json:
        emit_json(list_document(ranked))
    else:
        _print_list(ranked, f"related to {card.title if card else article_id}")


@fails_cleanly
def popular(
    k: Annotated[int, typer.Option(min=1, max=100)] = 6,
    section: Annotated[str | None, typer.Option()] = None,
    window: Annotated[Window, typer.Option(case_sensitive=False)] = Window.DECAYED,
    context: Annotated[str | None, typer.Option(help="leave out this article's Lees ook")] = None,
    as_json: JsonOption = False,
) -> None:
    """Print the Populair-nieuws list."""
    service = read_only_service(load_settings())
    try:
        ranked = service.popular(k, section=section, window=window.value, context=context)
    finally:
        service.close()
    if as_json:
        emit_json(list_document(ranked))
    else:
        _print_list(ranked, "popular")
