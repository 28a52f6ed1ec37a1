"""The JSON body and ETag fingerprint of a list, joined from per-card pieces.

Serialising each list whole (the items' dicts, their datetimes, a second dump without the
scores for the ETag, every surrogate key percent-encoded) cost ~20-30 us a list, most of what
/related's HTTP path spent beyond ranking with the result cache off. What a card shows is the
same in every list it appears in, so its JSON is made once per card and a list is joined from
those bytes; only each item's score (and reasons, when explained) is dumped per list. The bytes
are exactly what orjson makes of the whole document (tests/test_list_json.py compares them).

A card is found by its id and reused only while it is the same card: an edited article gets a
new Card, whose pieces are made afresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from recommender.catalog import Card
from recommender.ranking import RankedList

# the body's options; the ETag fingerprint is dumped without OPT_UTC_Z (as it always was)
BODY = orjson.OPT_UTC_Z
FINGERPRINT = 0
# a bound on the pieces kept (~1 KB a card): past it they are all dropped and made again as
# lists ask for them, so memory stays flat however many articles come and go
MAX_CARDS = 100_000


@dataclass(frozen=True, slots=True)
class CardJson:
    """A card's item object up to its per-list fields: `{"id":...,"published_at":...,` then
    `"score":` (body, times with Z) or `"reasons":` (fingerprint, times with +00:00)."""

    card: Card
    body: bytes
    shown: bytes


def dumps(value: Any, option: int) -> bytes:
    # default=str: whatever orjson cannot serialise becomes its str(), as in the whole document
    return orjson.dumps(value, default=str, option=option)


def card_fields(card: Card) -> dict[str, Any]:
    """What a list shows of a card, in schemas.ItemOut's order (score and reasons follow)."""
    return {
        "id": card.id,
        "url": card.url,
        "title": card.title,
        "section": card.section,
        "image": card.image,
        "published_at": (
            datetime.fromtimestamp(card.published_ts, UTC) if card.published_ts else None
        ),
    }


def card_json(card: Card) -> CardJson:
    fields = card_fields(card)
    # the closing brace dropped: the item's own fields follow
    body = dumps(fields, BODY)[:-1] + b',"score":'
    shown = dumps(fields, FINGERPRINT)[:-1] + b',"reasons":'
    return CardJson(card, body, shown)


class CardPieces:
    """Each card's JSON, made on first use and kept while the card is unchanged."""

    def __init__(self, limit: int = MAX_CARDS) -> None:
        self.limit = limit
        self._by_id: dict[str, CardJson] = {}

    def of(self, card: Card) -> CardJson:
        found = self._by_id.get(card.id)
        if found is not None and (found.card is card or found.card == card):
            return found
        if len(self._by_id) >= self.limit:
            self._by_id.clear()
        made = self._by_id[card.id] = card_json(card)
        return made

    def __len__(self) -> int:
        return len(self._by_id)


PIECES = CardPieces()


def list_json(
    ranked: RankedList, explain: bool, pieces: CardPieces = PIECES
) -> tuple[bytes, bytes]:
    """The list's body and its ETag fingerprint: what orjson makes of
    `{"recommendation_id", "kind", "fallback", "variant", "items"}` (OPT_UTC_Z) and of
    `[kind, fallback, variant, explain, items without their scores]`."""
    body_items: list[bytes] = []
    shown_items: list[bytes] = []
    for item in ranked.items:
        card = pieces.of(item.card)
        score = dumps(round(item.score, 6), BODY)
        if explain:
            body_reasons = dumps(item.reasons, BODY) + b"}"
            shown_reasons = dumps(item.reasons, FINGERPRINT) + b"}"
        else:  # most lists: no reasons to dump
            body_reasons = shown_reasons = b"null}"
        body_items.append(card.body + score + b',"reasons":' + body_reasons)
        shown_items.append(card.shown + shown_reasons)
    head = {
        "recommendation_id": ranked.recommendation_id,
        "kind": ranked.kind,
        "fallback": ranked.fallback,
        "variant": ranked.variant,
        "items": [],
    }
    # the empty list's `[]}` (`[]]`) cut off and the items put in its place
    body = dumps(head, BODY)[:-2] + b",".join(body_items) + b"]}"
    kind_etc = [ranked.kind, ranked.fallback, ranked.variant, explain, []]
    fingerprint = dumps(kind_etc, FINGERPRINT)[:-2] + b",".join(shown_items) + b"]]"
    return body, fingerprint
