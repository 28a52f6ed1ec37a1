"""The linear blend of candidate features that scores a Lees-ook list."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recommender.catalog import Card
from recommender.ranking.features import FEATURES


@dataclass(frozen=True)
class Weights:
    """Linear blend of candidate features; learned into models/ranker.json or set by settings.

    `without_entities` is the blend for a query article that carries no entity tags: weights
    learned where entity overlap stands for topicality would otherwise let popularity swamp a
    corpus without entities (most sites tag none), turning Lees ook into a second popular list.
    """

    values: dict[str, float]
    source: str = "settings"
    without_entities: dict[str, float] | None = None

    def for_query(self, query: Card | None) -> dict[str, float]:
        if self.without_entities is not None and (query is None or not query.entities):
            return self.without_entities
        return self.values

    def score(self, features: dict[str, float], values: dict[str, float] | None = None) -> float:
        blend = self.values if values is None else values
        return sum(blend.get(name, 0.0) * value for name, value in features.items())

    def vector(self, values: dict[str, float]) -> np.ndarray:
        """A blend as one weight per FEATURES column, so scores = feature matrix @ vector."""
        return np.array([values.get(name, 0.0) for name in FEATURES])
