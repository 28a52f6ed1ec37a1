"""What scoring reads besides the vector index: the optional lexical and co-read sources, and
the scored candidates of one query article."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from recommender.catalog import Card
from recommender.ranking.features import FEATURES


class Lexical(Protocol):
    """Lexical similarity and shared salient names between stored articles (the served one is
    recommender.lexical.LexicalSearch); optional."""

    def neighbours(self, article_id: str, k: int) -> list[tuple[str, float]]: ...

    def similarities(self, article_id: str, candidate_ids: Sequence[str]) -> np.ndarray: ...

    def name_overlap(self, article_id: str, candidate_ids: Sequence[str]) -> np.ndarray: ...


class CoReadSource(Protocol):
    """Readers of this story also read (recommender.coreads.CoReads); optional."""

    def neighbours(
        self, article_id: str, k: int, now: float | None = None
    ) -> list[tuple[str, float]]: ...

    def similarities(
        self, article_id: str, candidate_ids: Sequence[str], now: float | None = None
    ) -> np.ndarray: ...


@dataclass
class Scored:
    """Candidates of one query article with their features and blended scores, in step."""

    cards: list[Card]
    features: list[dict[str, float]]
    scores: list[float]

    @property
    def ids(self) -> list[str]:
        return [card.id for card in self.cards]

    @property
    def matrix(self) -> np.ndarray:
        """One row per candidate, one column per FEATURES name."""
        rows = [[f.get(name, 0.0) for name in FEATURES] for f in self.features]
        return np.array(rows, dtype=np.float64).reshape(-1, len(FEATURES))

    @property
    def values(self) -> np.ndarray:
        return np.asarray(self.scores, dtype=np.float64)
