"""Lees ook and Populair nieuws: candidates → filters → blend → MMR → fallback, with explanations.

The evaluation pipeline calls this same code; there is no second ranking implementation. The
Lees-ook hot path is array code over the candidate set (catalogue columns, a feature matrix, a
weight vector, MMR over one Gram product per pick): no Python object per candidate.
"""

from __future__ import annotations

import copy
import itertools
import logging
import time
from collections.abc import Collection, Sequence

import numpy as np

from recommender.catalog import Card, Catalog
from recommender.config import RankingParams
from recommender.index import VectorIndex
from recommender.popularity import PopularityCounters
from recommender.ranking.diversity import mmr_order
from recommender.ranking.features import DAY, as_dicts
from recommender.ranking.joined import JoinedRows, popular_ids
from recommender.ranking.lists import Explanation, Item, RankedList, new_recommendation_id
from recommender.ranking.scoring import CoReadSource, Lexical, Scored, Scoring
from recommender.ranking.slots import RowSlots, slot_lookups
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
        self._row_slots = RowSlots(index, catalog.columns)
        self._lookups = slot_lookups(popularity, catalog.columns)
        self._joined = JoinedRows()
        # bumped by swap_index: whatever was computed from the previous index is stale
        self.generation = 0

    @property
    def index(self) -> VectorIndex:
        """The vector index being served; replaced only through swap_index."""
        return self._index

    def swap_index(self, index: VectorIndex) -> None:
        """Serve another index from the next call on (the caller holds the service lock)."""
        self._index = index
        self._row_slots = RowSlots(index, self.catalog.columns)
        self._joined = JoinedRows()  # not to keep the previous index alive in it
        self.generation += 1

    @property
    def _scoring(self) -> Scoring:
        parts = (self.lexical, self.coreads, self._lookups)
        return Scoring(self.catalog, self.popularity, self.weights, self.params, *parts)

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
            fallback.depends_on = frozenset({article_id})
            return fallback
        items = []
        picks = self._select(found, k, use_mmr)
        if picks:
            blend = self.weights.for_query(self.catalog.get(article_id))
            # the listed rows gathered at once (one numpy step each, not three per item); the
            # gather is a copy: a view would keep the whole feature matrix alive in the cache
            scores, rows = found.values[picks].tolist(), found.matrix[picks]
            passes = [True] * len(picks) if found.passes is None else found.passes[picks].tolist()
            for at, pick in enumerate(picks):
                card = self.catalog.get(found.ids[pick])
                assert card is not None  # candidates() keeps only ids with a card
                # the reasons of the few listed items, and only once someone asks (explain=true)
                why = Explanation(rows[at], self.weights, blend, passes[at], scores[at])
                items.append(Item(card, scores[at], explain=why))
        if len(items) < k:
            taken = {article_id, *exclude, *(item.card.id for item in items)}
            fill = self.popular(k - len(items), section=section, exclude=taken, now=now)
            for item in fill.items:
                item.reasons["filled_from"] = "popular"
            items.extend(fill.items)
        return RankedList(
            new_recommendation_id(), items, kind="related", depends_on=frozenset({article_id})
        )

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
        sims, rows = self._index.neighbour_rows(article_id, self.params.candidates + 1)
        joined: list[str] = []
        if self.lexical is not None and self.params.lexical_candidates > 0:
            # "more like this": lexical neighbours catch names and rare words embeddings blur
            similar = self.lexical.neighbours(article_id, self.params.lexical_candidates)
            joined += [i for i, _ in similar]
        if self.coreads is not None and self.params.coread_candidates > 0:
            # "readers of this story also read"
            read = self.coreads.neighbours(article_id, self.params.coread_candidates, now)
            joined += [i for i, _ in read]
        popular = popular_ids(self.popularity, self.params.popular_candidates, now)
        # the joined articles in the index, in order, each once, not among the vector ones
        extra, vectors = self._joined.of(self._index, joined, popular, rows)
        if extra:  # float32 cosines cast by the concatenation (exact), rows from the list
            sims = np.concatenate([sims, vectors @ query], dtype=np.float64)
            rows = np.concatenate([rows, extra])
        # filtered and scored by catalogue slot: an id is read only when asked for (SlotIds)
        columns = self.catalog.columns
        slots = self._row_slots.of(rows)
        keep = columns.passing(slots, article_id, exclude, section, max_age_days, now)
        # a syndicated copy of the article being read
        keep &= sims < self.params.near_duplicate_threshold
        kept = keep.nonzero()[0]
        found = self._scoring.from_columns(article_id, slots[kept], sims[kept], now)
        found.rows = rows[kept]
        return found

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
        scoring = self._scoring
        query_card = self.catalog.get(query_id)
        matrix = scoring.card_matrix(query_card, cards, np.asarray(sims, np.float64), now)
        return scoring.blend(query_card, [c.id for c in cards], matrix, list(cards))

    def features(
        self, query: Card | None, cards: Sequence[Card], sims: np.ndarray, now: float
    ) -> list[dict[str, float]]:
        """Feature values of each candidate for one query article; all in [0, 1]."""
        return as_dicts(self._scoring.card_matrix(query, cards, np.asarray(sims, np.float64), now))

    def rerank(self, found: Scored, values: np.ndarray, k: int, use_mmr: bool = True) -> list[str]:
        """The ids a Lees-ook list of k would show if found were scored by values (another
        blend of the same feature matrix): how the evaluation ranks its many blends."""
        rescored = Scored(found.ids, found.matrix, values, found.catalog, None, found.rows)
        return [found.ids[i] for i in self._select(rescored, k, use_mmr)]

    def _select(self, found: Scored, k: int, use_mmr: bool) -> list[int]:
        """Positions in found of the listed items, by maximal marginal relevance."""
        if not len(found.values):
            return []
        # only the best-scored head can be picked: fetch vectors for it alone (hot path). Array
        # methods and ufunc reductions here and on the hot path, not numpy's Python wrappers
        # (np.argsort, flatnonzero, .min(), .max(), .all()): ~16 us a request at 10k and 100k
        head = (-found.values).argsort(kind="stable")[: max(k * 10, 40)]
        if found.rows is not None:
            vectors = self._index.vectors_at(found.rows[head])
        else:
            vectors = self._index.vectors([found.ids[i] for i in head.tolist()])
        lam = self.params.mmr_lambda if use_mmr else 1.0
        picks = mmr_order(vectors, found.values[head], k, lam, self.params.near_duplicate_threshold)
        return [int(head[pick]) for pick in picks]

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
        shown: RankedList | None = None,
    ) -> RankedList:
        """shown: the context's Lees-ook list when the caller has it (the service's cache)."""
        now = time.time() if now is None else now
        excluded = set(exclude)
        depends_on: frozenset[str] = frozenset()
        if context:
            # leave out the article being read and what its Lees-ook block already shows
            if shown is None:
                shown = self.related(context, self.params.default_k_related, now=now)
            depends_on = shown.article_ids() | {context}
            excluded |= depends_on
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
        return RankedList(new_recommendation_id(), items, kind="popular", depends_on=depends_on)
