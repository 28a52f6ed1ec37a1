"""The embeddable widget (/widget/<version>/widget.js and .css; /widget.js and /widget.css
still answer) and the demo article page (/demo/{id})."""

from __future__ import annotations

import gzip
import hashlib
import html
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Asset:
    """A static file served from memory: gzip-compressed once, with an ETag per encoding."""

    body: bytes
    gzipped: bytes
    media_type: str
    version: str  # a hash of the content: the versioned URL changes with every change

    @classmethod
    def of(cls, name: str, media_type: str) -> Asset:
        body = _asset(name).encode("utf-8")
        version = hashlib.sha256(body).hexdigest()[:12]
        return cls(body, gzip.compress(body, 9, mtime=0), media_type, version)

    def response(self, request: Request, cache_control: str) -> Response:
        gzip_ok = "gzip" in request.headers.get("accept-encoding", "").lower()
        etag = f'"{self.version}-gzip"' if gzip_ok else f'"{self.version}"'
        headers = {"ETag": etag, "Cache-Control": cache_control, "Vary": "Accept-Encoding"}
        if etag in {t.strip() for t in request.headers.get("if-none-match", "").split(",")}:
            return Response(status_code=304, headers=headers)
        if gzip_ok:
            headers["Content-Encoding"] = "gzip"
        body = self.gzipped if gzip_ok else self.body
        return Response(body, media_type=self.media_type, headers=headers)


router = APIRouter()
WIDGET = {
    "widget.js": Asset.of("widget.js", "application/javascript"),
    "widget.css": Asset.of("widget.css", "text/css"),
}
PAGE = Template(_asset("demo.html"))
# unversioned URLs are cached briefly, so a deploy reaches readers within minutes; a versioned
# URL names one content forever
SHORT = "public, max-age=300"
IMMUTABLE = "public, max-age=31536000, immutable"


def widget_url(base: str, name: str) -> str:
    return f"{base}/widget/{WIDGET[name].version}/{name}"


@router.get("/widget.js", include_in_schema=False)
async def widget_script(request: Request) -> Response:
    return WIDGET["widget.js"].response(request, SHORT)


@router.get("/widget.css", include_in_schema=False)
async def widget_style(request: Request) -> Response:
    return WIDGET["widget.css"].response(request, SHORT)


@router.get("/widget/{version}/{name}", include_in_schema=False)
async def widget_versioned(version: str, name: str, request: Request) -> Response:
    """The widget under its content version; an old version's URL (a page cached across a
    deploy) gets today's file, cached briefly, rather than a broken widget."""
    asset = WIDGET.get(name)
    if asset is None:
        return Response(status_code=404)
    return asset.response(request, IMMUTABLE if version == asset.version else SHORT)


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
        widget_src=widget_url(base, "widget.js"),
        # the demo articles' own URLs are on a site that does not exist: link to their demo
        # pages instead, so a click in a block lands on another demo page
        link_template=html.escape(f"{base}/demo/{{id}}"),
        css_href=widget_url(base, "widget.css"),
    )
    return HTMLResponse(body)
