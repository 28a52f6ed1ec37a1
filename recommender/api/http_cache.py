"""Ranked lists as cacheable HTTP responses: one serialised body per cached list, a weak ETag,
304 on If-None-Match, Cache-Control for browsers and CDNs, and a Surrogate-Key header naming
every article in the list so a CDN can purge it when one of them changes.

The ETag covers what a reader sees (kind, fallback, variant, each item's id, url, title, section,
image, publication time; the reasons when explained), not the recommendation id nor the scores:
a list recomputed with the same items answers 304, and the client keeps the body it has, whose
recommendation id still names an identical list for click attribution. It is weak (W/) because
two bodies under one ETag may differ in those two fields.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from fastapi import Request, Response

from recommender.api.list_json import list_json
from recommender.config import Settings
from recommender.ranking import RankedList
from recommender.service.purge import surrogate_keys

JSON = "application/json"
JSON_BYTES = JSON.encode("latin-1")


def list_response(
    request: Request, ranked: RankedList, explain: bool, settings: Settings
) -> Response:
    """200 with the list, or 304 when the client's If-None-Match names its current ETag."""
    if ranked.fallback:
        request.app.state.fallback_counter.inc()
    status, headers, body = raw_answer(
        ranked,
        explain,
        cache_control(settings).encode("latin-1"),
        request.headers.get("if-none-match"),
    )
    response = Response(body, status_code=status)
    response.raw_headers = headers
    return response


def raw_answer(
    ranked: RankedList, explain: bool, cache_control: bytes, if_none_match: str | None
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, ASGI headers and body of a list: 304 without a body when If-None-Match names
    its ETag. The headers are those Starlette's Response gave (same names, values, order); a
    new list each time, as the middleware outside add their own headers to it."""
    done = rendered(ranked, explain)
    headers = [
        (b"etag", done.etag_header),
        (b"cache-control", cache_control),
        (b"surrogate-key", done.keys_header),
    ]
    if etag_matches(if_none_match, done.etag):
        return 304, headers, b""
    headers.append((b"content-length", done.length))
    headers.append((b"content-type", JSON_BYTES))
    return 200, headers, done.body


def cache_control(settings: Settings) -> str:
    return (
        f"public, max-age={settings.http_max_age_seconds}, "
        f"s-maxage={settings.http_s_maxage_seconds}, "
        f"stale-while-revalidate={settings.http_stale_while_revalidate_seconds}"
    )


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Weak comparison (RFC 9110 13.1.2): W/ prefixes are ignored; * matches anything."""
    if not if_none_match:
        return False
    ours = etag.removeprefix("W/")
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == ours:
            return True
    return False


@dataclass(frozen=True, slots=True)
class Rendered:
    """A list as every answer of it sends it: body, ETag (and its header bytes), surrogate
    keys, Content-Length."""

    body: bytes
    etag: str
    etag_header: bytes
    keys_header: bytes
    length: bytes


def rendered(ranked: RankedList, explain: bool) -> Rendered:
    """The list's answer, made once per list (the result cache hands the same list, memo
    included, to every request it answers)."""
    memo_key = ("json", explain)
    done: Rendered | None = ranked.memo.get(memo_key)
    if done is None:
        body, fingerprint = list_json(ranked, explain)
        etag = 'W/"' + hashlib.blake2b(fingerprint, digest_size=12).hexdigest() + '"'
        keys = surrogate_keys(ranked.kind, ranked.article_ids())
        done = ranked.memo[memo_key] = Rendered(
            body,
            etag,
            etag.encode("latin-1"),
            keys.encode("latin-1"),
            str(len(body)).encode("latin-1"),
        )
    return done
