"""What a ranking answers: a list of items with scores and reasons, under a recommendation id
that click events carry back."""

from __future__ import annotations

import os
from collections.abc import Hashable
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
    # articles the list depends on besides its own items, for exact cache invalidation: the
    # query article of Lees ook; the context and its Lees-ook items for Populair nieuws
    depends_on: frozenset[str] = frozenset()
    # what callers derive from a cached list once (the API's serialised body), kept with it
    memo: dict[Hashable, Any] = field(default_factory=dict, compare=False, repr=False)

    def article_ids(self) -> frozenset[str]:
        """Every article id the list depends on, its items included."""
        return self.depends_on | {item.card.id for item in self.items}


def new_recommendation_id() -> str:
    # 128 random bits as 32 hex digits, like uuid4().hex, without building a UUID object
    return os.urandom(16).hex()
