"""A list's body and ETag fingerprint joined from per-card pieces (api/list_json.py) are byte
for byte what orjson makes of the whole document, and a changed card is never served stale."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
import pytest

from recommender.api.http_cache import rendered
from recommender.api.list_json import CardPieces, list_json
from recommender.catalog import Card
from recommender.ranking import Item, RankedList

TITLES = ["Kabinet valt", 'Een "quote" en \\ slash', "Ünïcödé 🚀 \u2028", "tab\tnewline\n", ""]


def whole_document(ranked: RankedList, explain: bool) -> tuple[bytes, bytes]:
    """How the body and fingerprint were made before: one orjson call over each document."""
    items = [
        {
            "id": item.card.id,
            "url": item.card.url,
            "title": item.card.title,
            "section": item.card.section,
            "image": item.card.image,
            "published_at": (
                datetime.fromtimestamp(item.card.published_ts, UTC)
                if item.card.published_ts
                else None
            ),
            "score": round(item.score, 6),
            "reasons": item.reasons if explain else None,
        }
        for item in ranked.items
    ]
    shown = [{k: v for k, v in i.items() if k != "score"} for i in items]
    fingerprint = orjson.dumps(
        [ranked.kind, ranked.fallback, ranked.variant, explain, shown], default=str
    )
    head = {
        "recommendation_id": ranked.recommendation_id,
        "kind": ranked.kind,
        "fallback": ranked.fallback,
        "variant": ranked.variant,
        "items": items,
    }
    return orjson.dumps(head, option=orjson.OPT_UTC_Z, default=str), fingerprint


def card(i: int, **changes: Any) -> Card:
    fields: dict[str, Any] = {
        "id": f"id-{i}",
        "title": TITLES[i % len(TITLES)],
        "url": None if i % 4 == 0 else f"https://nieuws.example/{i}?a=1&b=é",
        "section": None if i % 3 == 0 else "binnenland",
        "image": None if i % 2 == 0 else f"https://img.example/{i}.jpg",
        "published_ts": [None, 0.0, 1_700_000_000.5, 1_763_000_123.0][i % 4],
        "published": True,
    }
    return Card(**{**fields, **changes})


def ranked_list(cards: list[Card], seed: int, **kwargs: Any) -> RankedList:
    rng = np.random.default_rng(seed)
    items = [
        Item(
            c,
            float(rng.random()) * 10 ** int(rng.integers(-8, 3)),
            {
                "similarity": float(rng.random()),
                "shared_names": ["Rutte", "Den Haag"],
                "nested": {"at": datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC), "n": np.int64(3)},
            },
        )
        for c in cards
    ]
    return RankedList(f"{seed:032x}", items, **kwargs)


@pytest.mark.parametrize("explain", [False, True])
@pytest.mark.parametrize(
    "kwargs",
    [{}, {"fallback": True, "kind": "popular", "variant": "b-ßide"}, {"variant": 'q"uote'}],
)
def test_the_bytes_are_those_of_the_whole_document(explain: bool, kwargs: dict[str, Any]) -> None:
    pieces = CardPieces()
    cards = [card(i) for i in range(12)]
    for seed in range(30):
        chosen = [cards[int(i)] for i in np.random.default_rng(seed).permutation(12)[: seed % 7]]
        ranked = ranked_list(chosen, seed, **kwargs)
        assert list_json(ranked, explain, pieces) == whole_document(ranked, explain)


def test_a_changed_card_is_made_again() -> None:
    pieces = CardPieces()
    before = ranked_list([card(1), card(2)], 1)
    assert list_json(before, False, pieces) == whole_document(before, False)
    edited = ranked_list([card(1, title="Nieuwe kop", image=None), card(2)], 1)
    body, _ = list_json(edited, False, pieces)
    assert (body, _) == whole_document(edited, False) and b"Nieuwe kop" in body
    # an equal card that is another object (a reload) is served from the pieces it has
    same = card(2)
    assert pieces.of(same) is pieces.of(card(2)) and pieces.of(same).card is not same


def test_the_pieces_are_bounded() -> None:
    pieces = CardPieces(limit=5)
    for i in range(23):
        pieces.of(card(i))
        assert len(pieces) <= 5
    ranked = ranked_list([card(i) for i in range(20, 23)], 4)
    assert list_json(ranked, True, pieces) == whole_document(ranked, True)


def test_a_list_is_rendered_once_per_form() -> None:
    ranked = ranked_list([card(1), card(2)], 7)
    plain, explained = rendered(ranked, False), rendered(ranked, True)
    assert rendered(ranked, False) is plain and plain.body != explained.body
    assert plain.length == str(len(plain.body)).encode() and plain.etag.startswith('W/"')
    assert plain.etag_header == plain.etag.encode() and b"article:id-1" in plain.keys_header
