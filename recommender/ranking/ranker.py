"""Lees ook and Populair nieuws: candidates → filters → blend → MMR → fallback, with explanations.

The evaluation pipeline calls this same code; there is no second ranking implementation.
"""

from __future__ import annotations

import copy
import itertools
import logging
import math
import time
from collections.abc import Collection, Sequence

import numpy as np

from recommender.catalog import Card, Catalog
from recommender.config import RankingParams
from recommender.index import VectorIndex
from recommender.popularity import PopularityCounters
from recommender.ranking.features import DAY, candidate_features, explanation
from recommender.ranking.lists import Item, RankedList, new_recommendation_id
from recommender.ranking.scoring import CoReadSource, Lexical, Scored
from recommender.ranking.weights import Weights

__all__ = ["CoReadSource", "Lexical", "Ranker", "Scored"]

log = logging.getLogger(__name__)


class Ranker:
    def __init__(
        self,
        index: VectorIndex,
        catalog: Catalog,
        popularity: PopularityCounters,
        weights: Weights,
        params: RankingParams,
        lexical: Lexical | None = None,
        coreads: CoReadSource | None = None,
    ) -> None:
        self._index = index
        self.catalog = catalog
        self.popularity = popularity
        self.weights = weights
        self.params = params
        self.lexical = lexical
        self.coreads = coreads

    @property
    def index(self) -> VectorIndex:
        """The vector index being served; replaced only through swap_index."""
        return self._index

    def swap_index(self, index: VectorIndex) -> None:
        """Serve another index from the next call on (the caller holds the service lock)."""
        self._index = index

    def variant(self, weights: Weights, params: RankingParams) -> Ranker:
        """This ranker with another blend and parameters (an A/B variant), sharing index,
        catalogue and popularity: a shallow copy made per call, so never stale after a swap."""
        if weights is self.weights and params == self.params:
            return self
        other = copy.copy(self)
        other.weights = weights
        other.params = params
        return other

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
        cards, features, scores = found.cards, found.features, found.scores
        order = self._select(cards, scores, k, use_mmr)
        blend = self.weights.for_query(self.catalog.get(article_id))
        # the reasons of the few listed items, never of every candidate
        items = [
            Item(cards[i], scores[i], explanation(features[i], blend, scores[i])) for i in order
        ]
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
    ) -> Scored | None:
        """The candidates of a Lees-ook list that pass the filters, scored; None for an article
        without a vector. Serving and ranker training both call this."""
        now = time.time() if now is None else now
        query = self._index.vector(article_id)
        if query is None:
            return None
        # over-fetch: the article itself, its copies and filtered items all come back too
        hits = self._index.search(query, self.params.candidates + 1)
        joined: list[str] = []
        if self.lexical is not None and self.params.lexical_candidates > 0:
            # "more like this": lexical neighbours catch names and rare words embeddings blur
            found = self.lexical.neighbours(article_id, self.params.lexical_candidates)
            joined += [i for i, _ in found]
        if self.coreads is not None and self.params.coread_candidates > 0:
            # "readers of this story also read"
            read = self.coreads.neighbours(article_id, self.params.coread_candidates, now)
            joined += [i for i, _ in read]
        if self.params.popular_candidates > 0:
            joined += itertools.islice(self.popularity.ranked(now), self.params.popular_candidates)
        seen = {candidate_id for candidate_id, _ in hits}
        extra = [i for i in dict.fromkeys(joined) if i not in seen and i in self._index]
        if extra:
            extra_sims = self._index.vectors(extra) @ query
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
        return self.score_candidates(article_id, cards, now, np.array(sims))

    def score_candidates(
        self,
        query_id: str,
        cards: Sequence[Card],
        now: float,
        sims: np.ndarray | None = None,
    ) -> Scored:
        """Features and blended scores of candidates for one query article: the one scoring
        step of serving, ranker training and the impression evaluation. sims: the candidates'
        cosines to the query, when the caller has them already (else read from the index)."""
        if sims is None:
            query = self._index.vector(query_id)
            if query is None:
                raise ValueError(f"no vector for query article {query_id!r}")
            sims = self._index.vectors([c.id for c in cards]) @ query
        query_card = self.catalog.get(query_id)
        features = self.features(query_card, cards, sims, now)
        blend = self.weights.for_query(query_card)
        scores = [self.weights.score(f, blend) for f in features]
        return Scored(list(cards), features, scores)

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
        lexical, names, coreads = np.zeros(len(ids)), None, None
        if self.lexical is not None and query is not None and ids:
            lexical = self.lexical.similarities(query.id, ids)
            names = self.lexical.name_overlap(query.id, ids)
        if self.coreads is not None and query is not None and ids:
            coreads = self.coreads.similarities(query.id, ids, now)
        half_life = self.params.freshness_half_life_days
        return candidate_features(
            query, cards, sims, popularity, lexical, now, half_life, names, coreads
        )

    def rerank(self, found: Scored, values: np.ndarray, k: int, use_mmr: bool = True) -> list[str]:
        """The ids a Lees-ook list of k would show if found were scored by values (another
        blend of the same features): how the evaluation ranks its many blends."""
        order = self._select(found.cards, values.tolist(), k, use_mmr)
        return [found.cards[i].id for i in order]

    def _select(
        self, cards: Sequence[Card], scores: Sequence[float], k: int, use_mmr: bool
    ) -> list[int]:
        """Maximal marginal relevance: each pick trades its score against its closeness to the
        picks before it, so the list is not four copies of one story."""
        if not cards:
            return []
        # only the best-scored head can be picked: fetch vectors for it alone (hot path)
        head = sorted(range(len(cards)), key=lambda i: -scores[i])[: max(k * 10, 40)]
        vectors = self._index.vectors([cards[i].id for i in head])
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
            vector = self._index.vector(article_id)
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
