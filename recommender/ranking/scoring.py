"""The scoring step of Lees ook as arrays: the feature matrix of a query's candidates and their
blended scores, for candidates read from the catalogue columns (serving) or given as cards
(training, evaluation)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from recommender.catalog import NO_SECTION, Card, Catalog
from recommender.config import RankingParams
from recommender.coreads import CoReads
from recommender.popularity import Popularity, PopularityCounters
from recommender.ranking.features import as_dicts, feature_matrix, overlaps_of
from recommender.ranking.slots import SlotLookups
from recommender.ranking.weights import Weights


class Lexical(Protocol):
    """Lexical similarity and shared salient names between stored articles (the served one is
    recommender.lexical.LexicalSearch); optional."""

    def neighbours(self, article_id: str, k: int) -> list[tuple[str, float]]: ...

    def similarities(self, article_id: str, candidate_ids: Sequence[str]) -> np.ndarray: ...

    def name_overlap(self, article_id: str, candidate_ids: Sequence[str]) -> np.ndarray: ...

    def features(
        self,
        article_id: str,
        candidate_ids: Sequence[str],
        slots: np.ndarray | None = None,
        owner: object = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """similarities and name_overlap at once (the candidates looked up once); slots: the
        candidates' catalogue slots, owner: the catalogue's columns that number them."""
        ...


class CoReadSource(Protocol):
    """ "Readers of this story also read" (recommender.coreads.CoReads); optional."""

    def neighbours(
        self, article_id: str, k: int, now: float | None = None
    ) -> list[tuple[str, float]]: ...

    def similarities(
        self, article_id: str, candidate_ids: Sequence[str], now: float | None = None
    ) -> np.ndarray: ...


@dataclass
class Scored:
    """Candidates of one query article with their features and blended scores, in step: arrays
    on the hot path; cards and feature dicts only when someone asks (training, evaluation)."""

    ids: Sequence[str]  # from the columns: SlotIds, each id read when asked for
    matrix: np.ndarray  # one row per candidate, one column per FEATURES name
    values: np.ndarray  # blended scores
    catalog: Catalog
    given_cards: list[Card] | None = field(default=None, repr=False)
    rows: np.ndarray | None = field(default=None, repr=False)  # index rows, when known
    passes: np.ndarray | None = field(default=None, repr=False)  # passed the weights' gate

    @property
    def cards(self) -> list[Card]:
        if self.given_cards is None:
            cards = [self.catalog.get(i) for i in self.ids]
            self.given_cards = [c for c in cards if c is not None]
        return self.given_cards

    @property
    def features(self) -> list[dict[str, float]]:
        return as_dicts(self.matrix)

    @property
    def scores(self) -> list[float]:
        scores: list[float] = self.values.tolist()
        return scores


@dataclass
class Scoring:
    """What scoring reads: the ranker's parts (shared, not copied)."""

    catalog: Catalog
    popularity: PopularityCounters
    weights: Weights
    params: RankingParams
    lexical: Lexical | None
    coreads: CoReadSource | None = None
    lookups: SlotLookups | None = None  # by catalogue slot, for from_columns

    def from_columns(
        self, query_id: str, slots: np.ndarray, sims: np.ndarray, now: float
    ) -> Scored:
        """Candidates known to the catalogue, by slot: nothing per candidate in Python."""
        columns = self.catalog.columns
        ids = columns.ids_of(slots)
        query = self.catalog.get(query_id)
        code = columns.section_code(query.section) if query is not None else NO_SECTION
        # NO_SECTION matches nothing (cards without a section are not "the same section")
        same = columns.section[slots] == code if code >= 0 else np.zeros(len(slots), bool)
        published_ts = columns.published_ts[slots]
        known: dict[str, np.ndarray] = {}
        lookups = self.lookups
        if lookups is not None and lookups.counters is not None:
            assert isinstance(self.popularity, Popularity)  # what the counters belong to
            known["popularity"] = self.popularity.normalised_of(lookups.counters.of(slots), now)
        if lookups is not None and isinstance(self.coreads, CoReads) and query is not None:
            # the in-process table: its partners (memo of this request) spread by slot
            partners = lookups.scratch.spread(self.coreads.partners(query_id, now), slots)
            known["coreads"] = np.minimum(partners, 1.0)
        matrix = self.matrix(query, ids, None, sims, published_ts, same, now, known, slots)
        return self.blend(query, ids, matrix, None)

    def card_matrix(
        self, query: Card | None, cards: Sequence[Card], sims: np.ndarray, now: float
    ) -> np.ndarray:
        """Candidates given as cards: their columns come from the cards, not the catalogue,
        which need not hold them."""
        published_ts = np.array(
            [np.nan if c.published_ts is None else c.published_ts for c in cards], np.float64
        )
        section = None if query is None else query.section
        same = np.array([section is not None and c.section == section for c in cards], bool)
        ids = [c.id for c in cards]
        return self.matrix(query, ids, list(cards), sims, published_ts, same, now)

    def matrix(
        self,
        query: Card | None,
        ids: Sequence[str],
        cards: list[Card] | None,
        sims: np.ndarray,
        published_ts: np.ndarray,
        same_section: np.ndarray,
        now: float,
        known: dict[str, np.ndarray] | None = None,
        slots: np.ndarray | None = None,
    ) -> np.ndarray:
        """known: features the caller has already (popularity, coreads), by FEATURES name;
        slots: the candidates' catalogue slots when they come from the columns (the lexical
        features then look each id up once, not per request)."""
        known = {} if known is None else known
        popularity = known.get("popularity")
        if popularity is None:
            popularity = self.popularity.normalised(list(ids), now) if ids else np.zeros(0)
        lexical = names = None
        coreads = known.get("coreads")
        if self.lexical is not None and query is not None and ids:
            lexical, names = self.lexical.features(query.id, ids, slots, self.catalog.columns)
        if coreads is None and query is not None and ids:
            coreads = self._coreads_by_id(query.id, ids, now)
        overlaps = None
        if query is not None and (query.tags or query.entities) and ids:
            if cards is None:
                cards = [c for c in (self.catalog.get(i) for i in ids) if c is not None]
            overlaps = overlaps_of(query, cards)
        return feature_matrix(
            sims,
            popularity,
            lexical,
            published_ts,
            same_section,
            overlaps,
            now,
            self.params.freshness_half_life_days,
            names,
            coreads,
        )

    def _coreads_by_id(self, query_id: str, ids: Sequence[str], now: float) -> np.ndarray | None:
        if isinstance(self.coreads, CoReads):
            # the in-process table: only the candidates that are partners are looked at
            return self.coreads.partner_similarities(query_id, ids, now)
        return None if self.coreads is None else self.coreads.similarities(query_id, ids, now)

    def blend(
        self, query: Card | None, ids: Sequence[str], matrix: np.ndarray, cards: list[Card] | None
    ) -> Scored:
        values, passes = self.weights.scores(matrix, self.weights.for_query(query))
        return Scored(ids, matrix, values, self.catalog, cards, passes=passes)
