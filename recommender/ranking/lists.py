"""What a ranking answers: a list of items with scores and reasons, under a recommendation id
that click events carry back."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from recommender.catalog import Card


@dataclass
class Item:
    card: Card
    score: float
    reasons: dict[str, Any] = field(default_factory=dict)


@dataclass
class RankedList:
    recommendation_id: str
    items: list[Item]
    fallback: bool = False
    kind: str = "related"
    variant: str = "default"  # the A/B variant that ranked it (ranking/variants.py)


def new_recommendation_id() -> str:
    return uuid.uuid4().hex
