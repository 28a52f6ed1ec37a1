"""Serving commands: run the HTTP API, print a Lees-ook or Populair list."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from recommender import logs
from recommender.cli.common import err, fails_cleanly, out, started_service
from recommender.config import Settings
from recommender.ranking import RankedList


@fails_cleanly
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, help="processes; more than 1 needs RECOMMENDER_REDIS_URL")
    ] = 1,
) -> None:
    """Run the HTTP API. A new index written by `recommender build` is picked up by polling
    models/index/CURRENT (RECOMMENDER_INDEX_POLL_SECONDS) or POST /v1/admin/reload."""
    import uvicorn

    from recommender.api import create_app
    from recommender.service import RecommenderService

    logs.configure("INFO")
    settings = Settings()
    if workers > 1 and settings.redis_url is None:
        # without Redis each process would count its own clicks and miss the others' articles
        err.print(
            "error: --workers above 1 needs RECOMMENDER_REDIS_URL (shared popularity)",
            markup=False,
            highlight=False,
        )
        raise typer.Exit(2)
    # start here, not in the ASGI lifespan: a missing or corrupt index must end in one line on
    # stderr and exit code 2, not in uvicorn's start-up traceback
    service = RecommenderService(settings)
    try:
        service.start()
        if workers == 1:
            app = create_app(settings, service)
            uvicorn.run(app, host=host, port=port, log_config=None, access_log=False)
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
    )


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
) -> None:
    """Print the Lees-ook list of an article."""
    service = started_service(Settings())
    card = service.card(article_id)
    _print_list(
        service.related(article_id, k, section=section),
        f"related to {card.title if card else article_id}",
    )


@fails_cleanly
def popular(
    k: Annotated[int, typer.Option(min=1, max=100)] = 6,
    section: Annotated[str | None, typer.Option()] = None,
    window: Annotated[str, typer.Option(help="decayed, trending or alltime")] = "decayed",
    context: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Print the Populair-nieuws list."""
    service = started_service(Settings())
    _print_list(service.popular(k, section=section, window=window, context=context), "popular")
