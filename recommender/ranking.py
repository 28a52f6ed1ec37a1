"""Lees ook and Populair nieuws: candidates → filters → blend → MMR → fallback, with explanations.

The evaluation pipeline calls this same code; there is no second ranking implementation.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import time
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from recommender.catalog import Card, Catalog
from recommender.index import VectorIndex
from recommender.popularity import Popularity

log = logging.getLogger(__name__)

FEATURES = (
    "similarity",
    "lexical",
    "popularity",
    "freshness",
    "same_section",
    "tag_overlap",
    "entity_overlap",
)
DAY = 86_400.0


class Lexical(Protocol):
    """Lexical (TF-IDF) similarity between stored articles; optional, see recommender.learning."""

    def neighbours(self, article_id: str, k: int) -> list[tuple[str, float]]: ...

    def similarities(self, article_id: str, candidate_ids: Sequence[str]) -> np.ndarray: ...


def relative_similarity(sims: np.ndarray) -> np.ndarray:
    """Cosine rescaled to [0, 1] across one article's candidates (best = 1, worst = 0).

    Models spread cosines very differently (an English model on Dutch text puts everything
    between 0.45 and 0.8), so blend weights learned on raw cosines with one model would let
    popularity swamp similarity with another. Relative similarity keeps weights portable."""
    sims = np.asarray(sims, dtype=np.float64)
    if sims.size == 0:
        return sims
    low, high = float(sims.min()), float(sims.max())
    if high - low < 1e-9:
        return np.ones_like(sims)
    scaled: np.ndarray = (sims - low) / (high - low)
    return scaled


def overlap(a: Sequence[str], b: Sequence[str]) -> float:
    """|a ∩ b| / min(|a|, |b|): 1.0 when the shorter list is contained in the longer one."""
    if not a or not b:
        return 0.0
    return len(set(a) & set(b)) / min(len(set(a)), len(set(b)))


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

    @classmethod
    def load(cls, path: Path, default: Weights) -> Weights:
        """Weights from a ranker.json, or the default when the file is absent or unusable."""
        if not path.is_file():
            return default
        try:
            data = json.loads(path.read_text())
            values = {str(k): float(v) for k, v in data["weights"].items()}
            portable = data.get("weights_without_entities")
            without = None if portable is None else {str(k): float(v) for k, v in portable.items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("ranker.unusable", extra={"path": str(path), "error": str(exc)})
            return default
        return cls(values, source=str(path), without_entities=without)


@dataclass(frozen=True)
class RankingParams:
    candidates: int = 100
    near_duplicate_threshold: float = 0.92
    popular_dedup_threshold: float = 0.85
    mmr_lambda: float = 0.75
    freshness_half_life_days: float = 7.0
    default_k_related: int = 4
    # the most popular articles joined to the candidates, so a popularity-heavy blend can reach
    # them even when they are not among the nearest neighbours; 0 = neighbours only
    popular_candidates: int = 0


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
        lexical: Lexical | None = None,
    ) -> None:
        self.index = index
        self.catalog = catalog
        self.popularity = popularity
        self.weights = weights
        self.params = params
        self.lexical = lexical

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
        found = self.candidates(
            article_id, section=section, max_age_days=max_age_days, exclude=exclude, now=now
        )
        if found is None:
            # unknown article: the widget still gets a useful list
            fallback = self.popular(k, section=section, exclude={article_id, *exclude}, now=now)
            fallback.fallback = True
            fallback.kind = "related"
            return fallback
        cards, features = found
        blend = self.weights.for_query(self.catalog.get(article_id))
        scores = [self.weights.score(f, blend) for f in features]
        order = self._select(cards, scores, k, use_mmr)
        items = [Item(cards[i], scores[i], {**features[i], "total": scores[i]}) for i in order]
        if len(items) < k:
            taken = {article_id, *exclude, *(item.card.id for item in items)}
            fill = self.popular(k - len(items), section=section, exclude=taken, now=now)
            for item in fill.items:
                item.reasons["filled_from"] = "popular"
            items.extend(fill.items)
        return RankedList(new_recommendation_id(), items, kind="related")

    def candidates(
        self,
        article_id: str,
        *,
        section: str | None = None,
        max_age_days: float | None = None,
        exclude: Collection[str] = (),
        now: float | None = None,
    ) -> tuple[list[Card], list[dict[str, float]]] | None:
        """The candidates of a Lees-ook list that pass the filters, with their features; None
        for an article without a vector. Serving and ranker training both call this."""
        now = time.time() if now is None else now
        query = self.index.vector(article_id)
        if query is None:
            return None
        query_card = self.catalog.get(article_id)
        # over-fetch: the article itself, its copies and filtered items all come back too
        hits = self.index.search(query, self.params.candidates + 1)
        joined: list[str] = []
        if self.lexical is not None:
            # "more like this": lexical neighbours catch names and rare words embeddings blur
            joined += [i for i, _ in self.lexical.neighbours(article_id, self.params.candidates)]
        if self.params.popular_candidates > 0:
            joined += itertools.islice(self.popularity.ranked(now), self.params.popular_candidates)
        seen = {candidate_id for candidate_id, _ in hits}
        extra = [i for i in dict.fromkeys(joined) if i not in seen and i in self.index]
        if extra:
            extra_sims = self.index.vectors(extra) @ query
            hits += [(i, float(sim)) for i, sim in zip(extra, extra_sims, strict=True)]
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
        return cards, self.features(query_card, cards, np.array(sims), now)

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
        lexical = (
            self.lexical.similarities(query.id, ids)
            if self.lexical is not None and query is not None and ids
            else np.zeros(len(ids))
        )
        half_life = self.params.freshness_half_life_days * DAY
        relative = relative_similarity(sims)
        out = []
        for card, sim, pop, lex in zip(cards, relative, popularity, lexical, strict=True):
            age = None if card.published_ts is None else max(0.0, now - card.published_ts)
            same = query is not None and query.section is not None and card.section == query.section
            out.append(
                {
                    "similarity": float(sim),
                    "lexical": float(lex),
                    "popularity": float(pop),
                    "freshness": 0.0 if age is None else math.pow(2.0, -age / half_life),
                    "same_section": 1.0 if same else 0.0,
                    "tag_overlap": overlap(query.tags, card.tags) if query else 0.0,
                    "entity_overlap": overlap(query.entities, card.entities) if query else 0.0,
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
        # only the best-scored head can be picked: fetch vectors for it alone (hot path)
        head = sorted(range(len(cards)), key=lambda i: -scores[i])[: max(k * 10, 40)]
        vectors = self.index.vectors([cards[i].id for i in head])
        chosen: list[int] = []  # positions in head
        lam = self.params.mmr_lambda if use_mmr else 1.0
        remaining = list(range(len(head)))
        while remaining and len(chosen) < k:
            if chosen:
                max_close = (vectors[remaining] @ vectors[chosen].T).max(axis=1)
            else:
                max_close = np.zeros(len(remaining))
            best_pos, best_value = -1, -math.inf
            for pos, row in enumerate(remaining):
                if max_close[pos] >= self.params.near_duplicate_threshold:
                    continue  # two copies of one story never both make the list
                value = lam * scores[head[row]] - (1.0 - lam) * float(max_close[pos])
                if value > best_value:
                    best_pos, best_value = pos, value
            if best_pos < 0:
                break
            chosen.append(remaining.pop(best_pos))
        return [head[row] for row in chosen]

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
        # most clicked first; when too few articles have clicks, the newest stories fill up
        by_clicks = (
            (article_id, "popularity") for article_id in self.popularity.ranked(now, window)
        )
        newest = ((article_id, "newest") for _, article_id in self.catalog.newest())
        picked: list[tuple[Card, str]] = []
        picked_vectors: list[np.ndarray] = []
        for article_id, source in itertools.chain(by_clicks, newest):
            card = self.catalog.get(article_id)
            if card is None or not self._passes(card, "", excluded, section, None, now):
                continue
            vector = self.index.vector(article_id)
            if vector is not None and picked_vectors:
                closeness = float(np.max(np.stack(picked_vectors) @ vector))
                if closeness >= self.params.popular_dedup_threshold:
                    continue  # no two items about the same event
            picked.append((card, source))
            excluded.add(article_id)
            if vector is not None:
                picked_vectors.append(vector)
            if len(picked) == k:
                break
        scores = self.popularity.scores([card.id for card, _ in picked], now, window)
        items = [
            Item(
                card,
                float(score),
                {"popularity": float(score), "window": window}
                if source == "popularity"
                else {"filled_from": "newest"},
            )
            for (card, source), score in zip(picked, scores, strict=True)
        ]
        return RankedList(new_recommendation_id(), items, kind="popular")
