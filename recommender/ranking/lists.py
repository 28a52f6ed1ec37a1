"""What a ranking answers: a list of items with scores and reasons, under a recommendation id
that click events carry back."""

from __future__ import annotations

import os
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from recommender.catalog import Card
from recommender.ranking.features import explanation
from recommender.ranking.weights import Weights


class Explanation:
    """What explain=true shows of one listed item, kept as the ranking's arrays until read: a
    list is served without its reasons far more often than with them."""

    __slots__ = ("values", "weights", "blend", "passed", "total")

    def __init__(
        self,
        values: np.ndarray,
        weights: Weights,
        blend: dict[str, float],
        passed: bool,
        total: float,
    ) -> None:
        self.values, self.weights, self.blend = values, weights, blend
        self.passed, self.total = passed, total

    def reasons(self) -> dict[str, Any]:
        # a candidate that failed the gate got nothing from the non-relevance features
        applied = self.weights.applied(self.blend, self.passed)
        return explanation(self.values, applied, self.total)


class Item:
    """One listed article: its card, its score and the reasons for it (built on first read when
    an Explanation is given)."""

    __slots__ = ("card", "score", "_reasons", "_explain")

    def __init__(
        self,
        card: Card,
        score: float,
        reasons: dict[str, Any] | None = None,
        *,
        explain: Explanation | None = None,
    ) -> None:
        self.card = card
        self.score = score
        self._reasons = reasons
        self._explain = explain

    @property
    def reasons(self) -> dict[str, Any]:
        if self._reasons is None:
            self._reasons = {} if self._explain is None else self._explain.reasons()
        return self._reasons

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Item):
            return NotImplemented
        return (self.card, self.score, self.reasons) == (other.card, other.score, other.reasons)

    __hash__ = None  # type: ignore[assignment]  # mutable, as the dataclass it replaces

    def __repr__(self) -> str:
        return f"Item(card={self.card!r}, score={self.score!r}, reasons={self.reasons!r})"


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
