"""The embeddable widget (/widget.js, /widget.css) and the demo article page (/demo/{id})."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from importlib.resources import files
from string import Template
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from recommender.errors import ArticleNotFound

MONTHS = (
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
)
WEEKDAYS = ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag")
# the demo site is Dutch: its readers expect Dutch wall-clock time, summer time included
SITE_TIME_ZONE = ZoneInfo("Europe/Amsterdam")


def _asset(name: str) -> str:
    return files("recommender").joinpath("web", name).read_text(encoding="utf-8")


def dutch_date(value: datetime) -> str:
    """'maandag, 06 oktober 2025 om 11:28', as the seed page writes dates, in Dutch time
    (a naive datetime is taken to be UTC, as the store keeps it)."""
    value = local_time(value)
    return (
        f"{WEEKDAYS[value.weekday()]}, {value.day:02d} {MONTHS[value.month - 1]} "
        f"{value.year} om {value.hour:02d}:{value.minute:02d}"
    )


def local_time(value: datetime) -> datetime:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(SITE_TIME_ZONE)


router = APIRouter()
WIDGET_JS = _asset("widget.js")
WIDGET_CSS = _asset("widget.css")
PAGE = Template(_asset("demo.html"))
# the browser caches the widget briefly, so a deploy reaches readers within minutes
CACHE = {"Cache-Control": "public, max-age=300"}


@router.get("/widget.js", include_in_schema=False)
async def widget_script() -> Response:
    return Response(WIDGET_JS, media_type="application/javascript", headers=CACHE)


@router.get("/widget.css", include_in_schema=False)
async def widget_style() -> Response:
    return Response(WIDGET_CSS, media_type="text/css", headers=CACHE)


@router.get("/demo/{article_id}", response_class=HTMLResponse, tags=["demo"])
def demo_page(article_id: str, request: Request) -> HTMLResponse:
    """A demo article page laid out like a real news site, with both widget blocks."""
    try:
        article = request.app.state.service.get_article(article_id, live_only=True)
    except ArticleNotFound:
        return HTMLResponse(
            "<!doctype html><title>Niet gevonden</title><h1>Artikel niet gevonden</h1>",
            status_code=404,
        )
    published = article.published_at
    paragraphs = [p for p in article.text.split("\n") if p.strip()] or [article.text]
    # never the request's Host header: a cache that does not key on it would serve a page
    # pointing at whatever host an attacker sent
    base = (request.app.state.settings.public_base_url or "").rstrip("/")
    body = PAGE.substitute(
        lang=html.escape(article.language or "nl"),
        title=html.escape(article.title),
        section=html.escape(article.section or ""),
        author=html.escape(article.author or "de redactie"),
        date_iso=local_time(published).isoformat(timespec="seconds") if published else "",
        date_display=dutch_date(published) if published else "",
        lead=html.escape(article.lead),
        body_html="\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs),
        article_id=html.escape(article.id),
        widget_src=f"{base}/widget.js",
        # the demo articles' own URLs are on a site that does not exist: link to their demo
        # pages instead, so a click in a block lands on another demo page
        link_template=html.escape(f"{base}/demo/{{id}}"),
        css_href=f"{base}/widget.css",
    )
    return HTMLResponse(body)
