"""Serving commands: run the HTTP API, print a Lees-ook or Populair list."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.table import Table

from recommender import logs
from recommender.cli.common import (
    LogLevel,
    emit_json,
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
) -> None:
    """Run the HTTP API. A new index written by `recommender build` is picked up by polling
    models/index/CURRENT (RECOMMENDER_INDEX_POLL_SECONDS) or POST /v1/admin/reload."""
    import uvicorn

    from recommender.api import create_app
    from recommender.service import RecommenderService

    chosen = log_level or (ctx.obj or {}).get("log_level") or LogLevel.INFO
    logs.configure(chosen.value)
    settings = load_settings()
    # start here, not in the ASGI lifespan: a missing or corrupt index must end in one line on
    # stderr and a documented exit code, not in uvicorn's start-up traceback
    service = RecommenderService(settings)
    try:
        service.start()
        uvicorn.run(
            create_app(settings, service),
            host=host,
            port=port,
            log_config=None,
            # the app writes its own access log (JSON, with the request id)
            access_log=False,
            log_level=chosen.value.lower(),
        )
    finally:
        service.close()


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
