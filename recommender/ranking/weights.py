"""The linear blend of candidate features that scores a Lees-ook list, optionally gated: the
behaviour features (popularity, co-reads, ...) only lift candidates that are topical."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recommender.catalog import Card
from recommender.ranking.features import FEATURES


@dataclass(frozen=True)
class Gate:
    """Which candidates the non-relevance features may lift.

    A candidate's relevance is the blend of the `relevance` features alone (what the article
    itself says: similarity, lexical, names). It passes the gate when its relevance is at least
    `share` of the best candidate's; only then do the other features (popularity, co-reads,
    freshness, section) count. Without it a popular story unrelated to the article can buy its
    way into Lees ook by clicks alone, and no weight can prevent that for every article."""

    relevance: tuple[str, ...]
    share: float


@dataclass(frozen=True)
class Weights:
    """Linear blend of candidate features; learned into models/ranker.json or set by settings.

    `without_entities` is the blend for a query article that carries no entity tags: weights
    learned where entity overlap stands for topicality would otherwise let popularity swamp a
    corpus without entities (most sites tag none), turning Lees ook into a second popular list.
    `gate`: see Gate; None scores every candidate with the whole blend.
    """

    values: dict[str, float]
    source: str = "settings"
    without_entities: dict[str, float] | None = None
    gate: Gate | None = None

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

    def scores(
        self, matrix: np.ndarray, values: dict[str, float]
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Scores of every candidate row of matrix under the blend values, and which rows
        passed the gate (None without a gate). Two matrix-vector products: O(candidates)."""
        blend = self.vector(values)
        if self.gate is None or len(matrix) == 0:
            return matrix @ blend, None
        topical = np.array([name in self.gate.relevance for name in FEATURES])
        relevance = matrix @ np.where(topical, blend, 0.0)
        behaviour = matrix @ np.where(topical, 0.0, blend)
        passes = relevance >= self.gate.share * float(relevance.max())
        scored: np.ndarray = relevance + np.where(passes, behaviour, 0.0)
        return scored, passes

    def applied(self, values: dict[str, float], passed: bool) -> np.ndarray:
        """The weights one candidate was actually scored with (its explanation's weights): a
        candidate that failed the gate got nothing from the non-relevance features."""
        blend = self.vector(values)
        if self.gate is None or passed:
            return blend
        return np.array(
            [
                w if name in self.gate.relevance else 0.0
                for name, w in zip(FEATURES, blend, strict=True)
            ]
        )
