"""`recommender settings`: every setting with its default and meaning, as the README shows it."""

from __future__ import annotations

from typing import Annotated

import typer

from recommender.cli.common import emit_json, out
from recommender.config import settings_reference

HEADER = "| setting | default | meaning |\n|---|---|---|"


def markdown_table() -> str:
    """The README's settings table (tests/test_readme.py fails when the README drifts)."""
    rows = [
        f"| `{name}` | {f'`{default}`' if default else ''} | {meaning} |"
        for name, default, meaning in settings_reference()
    ]
    return "\n".join([HEADER, *rows])


def settings_table(
    as_json: Annotated[bool, typer.Option("--json", help="one JSON document")] = False,
) -> None:
    """Print every RECOMMENDER_* setting with its default and meaning (a Markdown table)."""
    if as_json:
        emit_json([{"name": n, "default": d, "meaning": m} for n, d, m in settings_reference()])
    else:
        out.print(markdown_table(), markup=False, highlight=False, soft_wrap=True)
