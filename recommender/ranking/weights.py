"""The linear blend of candidate features that scores a Lees-ook list, optionally gated: the
behaviour features (popularity, co-reads, ...) only lift candidates that are topical."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from recommender.catalog import Card
from recommender.ranking.features import FEATURES

# serving scores with two blends (with and without entities); evaluation with a few more
KEPT_BLENDS = 8


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
    # a blend's weight vectors, kept: rebuilding them from the dict cost ~4 us a request
    _vectors: dict[int, tuple[dict[str, float], np.ndarray, np.ndarray, np.ndarray]] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

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
        blend, topical_part, behaviour_part = self._split(values)
        if self.gate is None or len(matrix) == 0:
            return matrix @ blend, None
        relevance = matrix @ topical_part
        behaviour = matrix @ behaviour_part
        passes = relevance >= self.gate.share * float(np.maximum.reduce(relevance))
        scored: np.ndarray = relevance + np.where(passes, behaviour, 0.0)
        return scored, passes

    def _split(self, values: dict[str, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """vector(values), and it split into the gate's relevance part and the rest (both
        the whole blend without a gate), kept while values holds the same weights."""
        kept = self._vectors.get(id(values))
        if kept is None or kept[0] != values:
            blend = self.vector(values)
            topical = np.array(
                [self.gate is not None and n in self.gate.relevance for n in FEATURES]
            )
            parts = (np.where(topical, blend, 0.0), np.where(topical, 0.0, blend))
            kept = (dict(values), blend, *parts)
            for array in kept[1:]:
                array.flags.writeable = False
            if len(self._vectors) >= KEPT_BLENDS:  # a caller scoring many blends of its own
                self._vectors.clear()
            self._vectors[id(values)] = kept
        return kept[1], kept[2], kept[3]

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
