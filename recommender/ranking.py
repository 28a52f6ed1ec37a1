"""Lees ook and Populair nieuws: candidates → filters → blend → MMR → fallback, with explanations.

The evaluation pipeline calls this same code; there is no second ranking implementation.
"""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from recommender.catalog import Card, Catalog
from recommender.index import VectorIndex
from recommender.popularity import Popularity

log = logging.getLogger(__name__)

FEATURES = ("similarity", "popularity", "freshness", "same_section")
DAY = 86_400.0


@dataclass(frozen=True)
class Weights:
    """Linear blend of candidate features; learned into models/ranker.json or set by settings."""

    values: dict[str, float]
    source: str = "settings"

    def score(self, features: dict[str, float]) -> float:
        return sum(self.values.get(name, 0.0) * value for name, value in features.items())

    @classmethod
    def load(cls, path: Path, default: Weights) -> Weights:
        """Weights from a ranker.json, or the default when the file is absent or unusable."""
        if not path.is_file():
            return default
        try:
            data = json.loads(path.read_text())
            values = {str(k): float(v) for k, v in data["weights"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("ranker.unusable", extra={"path": str(path), "error": str(exc)})
            return default
        return cls(values, source=str(path))


@dataclass(frozen=True)
class RankingParams:
    candidates: int = 100
    near_duplicate_threshold: float = 0.92
    popular_dedup_threshold: float = 0.85
    mmr_lambda: float = 0.75
    freshness_half_life_days: float = 7.0
    default_k_related: int = 4


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
    variant: str = "default"


def new_recommendation_id() -> str:
    return uuid.uuid4().hex


class Ranker:
    def __init__(
        self,
        index: VectorIndex,
        catalog: Catalog,
        popularity: Popularity,
        weights: Weights,
        params: RankingParams,
    ) -> None:
        self.index = index
        self.catalog = catalog
        self.popularity = popularity
        self.weights = weights
        self.params = params

    # Lees ook ---------------------------------------------------------------------------------

    def related(
        self,
        article_id: str,
        k: int,
        *,
        section: str | None = None,
        max_age_days: float | None = None,
        exclude: Collection[str] = (),
        use_mmr: bool = True,
        now: float | None = None,
    ) -> RankedList:
        now = time.time() if now is None else now
        query = self.index.vector(article_id)
        if query is None:
            # unknown article: the widget still gets a useful list
            fallback = self.popular(k, section=section, exclude={article_id, *exclude}, now=now)
            fallback.fallback = True
            fallback.kind = "related"
            return fallback
        query_card = self.catalog.get(article_id)
        # over-fetch: the article itself, its copies and filtered items all come back too
        hits = self.index.search(query, self.params.candidates + 1)
        cards: list[Card] = []
        sims: list[float] = []
        for candidate_id, sim in hits:
            card = self.catalog.get(candidate_id)
            if card is None or not self._passes(
                card, article_id, exclude, section, max_age_days, now
            ):
                continue
            if sim >= self.params.near_duplicate_threshold:
                continue  # a syndicated copy of the article being read
            cards.append(card)
            sims.append(sim)
        features = self.features(query_card, cards, np.array(sims), now)
        scores = [self.weights.score(f) for f in features]
        order = self._select(cards, scores, k, use_mmr)
        items = [Item(cards[i], scores[i], {**features[i], "total": scores[i]}) for i in order]
        if len(items) < k:
            taken = {article_id, *exclude, *(item.card.id for item in items)}
            fill = self.popular(k - len(items), section=section, exclude=taken, now=now)
            for item in fill.items:
                item.reasons["filled_from"] = "popular"
            items.extend(fill.items)
        return RankedList(new_recommendation_id(), items, kind="related")

    def _passes(
        self,
        card: Card,
        self_id: str,
        exclude: Collection[str],
        section: str | None,
        max_age_days: float | None,
        now: float,
    ) -> bool:
        if card.id == self_id or not card.published or card.id in exclude:
            return False
        if section is not None and (card.section or "").lower() != section.lower():
            return False
        if max_age_days is not None and card.published_ts is not None:
            return now - card.published_ts <= max_age_days * DAY
        return True

    def features(
        self, query: Card | None, cards: Sequence[Card], sims: np.ndarray, now: float
    ) -> list[dict[str, float]]:
        """Feature values of each candidate for one query article; all in [0, 1]."""
        ids = [c.id for c in cards]
        popularity = self.popularity.normalised(ids, now) if ids else np.zeros(0)
        half_life = self.params.freshness_half_life_days * DAY
        out = []
        for card, sim, pop in zip(cards, sims, popularity, strict=True):
            age = None if card.published_ts is None else max(0.0, now - card.published_ts)
            same = query is not None and query.section is not None and card.section == query.section
            out.append(
                {
                    "similarity": float(sim),
                    "popularity": float(pop),
                    "freshness": 0.0 if age is None else math.pow(2.0, -age / half_life),
                    "same_section": 1.0 if same else 0.0,
                }
            )
        return out

    def _select(
        self, cards: Sequence[Card], scores: Sequence[float], k: int, use_mmr: bool
    ) -> list[int]:
        """Maximal marginal relevance: each pick trades its score against its closeness to the
        picks before it, so the list is not four copies of one story."""
        if not cards:
            return []
        by_score = sorted(range(len(cards)), key=lambda i: -scores[i])
        vectors = self.index.vectors([c.id for c in cards])
        chosen: list[int] = []
        lam = self.params.mmr_lambda if use_mmr else 1.0
        remaining = by_score[: max(k * 10, 40)]
        while remaining and len(chosen) < k:
            if chosen:
                closeness = vectors[remaining] @ vectors[chosen].T
                max_close = closeness.max(axis=1)
            else:
                max_close = np.zeros(len(remaining))
            best_pos, best_value = -1, -math.inf
            for pos, i in enumerate(remaining):
                if max_close[pos] >= self.params.near_duplicate_threshold:
                    continue  # two copies of one story never both make the list
                value = lam * scores[i] - (1.0 - lam) * float(max_close[pos])
                if value > best_value:
                    best_pos, best_value = pos, value
            if best_pos < 0:
                break
            chosen.append(remaining.pop(best_pos))
        return chosen

    # Populair nieuws --------------------------------------------------------------------------

    def popular(
        self,
        k: int,
        *,
        section: str | None = None,
        window: str = "decayed",
        exclude: Collection[str] = (),
        context: str | None = None,
        now: float | None = None,
    ) -> RankedList:
        now = time.time() if now is None else now
        excluded = set(exclude)
        if context:
            # leave out the article being read and what its Lees-ook block already shows
            excluded.add(context)
            shown = self.related(context, self.params.default_k_related, now=now)
            excluded.update(item.card.id for item in shown.items)
        picked: list[Card] = []
        picked_vectors: list[np.ndarray] = []
        for article_id in self.popularity.ranked(now, window):
            card = self.catalog.get(article_id)
            if card is None or not self._passes(card, "", excluded, section, None, now):
                continue
            vector = self.index.vector(article_id)
            if vector is not None and picked_vectors:
                closeness = float(np.max(np.stack(picked_vectors) @ vector))
                if closeness >= self.params.popular_dedup_threshold:
                    continue  # no two items about the same event
            picked.append(card)
            if vector is not None:
                picked_vectors.append(vector)
            if len(picked) == k:
                break
        scores = self.popularity.scores([c.id for c in picked], now, window)
        items = [
            Item(c, float(s), {"popularity": float(s), "window": window})
            for c, s in zip(picked, scores, strict=True)
        ]
        if len(items) < k:
            items.extend(
                self._newest(k - len(items), section, excluded | {c.id for c in picked}, now)
            )
        return RankedList(new_recommendation_id(), items, kind="popular")

    def _newest(self, k: int, section: str | None, excluded: set[str], now: float) -> list[Item]:
        """When too few articles have clicks, the newest stories fill the list."""
        items: list[Item] = []
        for _, article_id in self.catalog.newest():
            card = self.catalog.get(article_id)
            if card is None or not self._passes(card, "", excluded, section, None, now):
                continue
            items.append(Item(card, 0.0, {"filled_from": "newest"}))
            if len(items) == k:
                break
        return items
