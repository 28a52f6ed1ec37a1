"""The per-candidate Lees-ook ranking as it was before vectorisation: a test oracle only.

Straightforward Python over Card objects and feature dicts, read against a live Ranker's parts
(index, catalogue, popularity, lexical, weights, params). tests/test_ranking_vectorised.py
checks that the vectorised Ranker lists the same items with the same scores on random data.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Collection, Sequence

import numpy as np

from recommender.catalog import Card
from recommender.ranking import Ranker
from recommender.ranking.features import DAY, overlap, relative_similarity


def reference_related(
    ranker: Ranker,
    article_id: str,
    k: int,
    *,
    now: float,
    section: str | None = None,
    max_age_days: float | None = None,
    exclude: Collection[str] = (),
    use_mmr: bool = True,
) -> list[tuple[str, float]] | None:
    """(id, score) of the Lees-ook items before any popular fill; None for an unknown article."""
    found = reference_candidates(ranker, article_id, now, section, max_age_days, exclude)
    if found is None:
        return None
    cards, scores = found
    order = reference_select(ranker, cards, scores, k, use_mmr)
    return [(cards[i].id, scores[i]) for i in order]


def reference_candidates(
    ranker: Ranker,
    article_id: str,
    now: float,
    section: str | None,
    max_age_days: float | None,
    exclude: Collection[str],
) -> tuple[list[Card], list[float]] | None:
    index, params = ranker.index, ranker.params
    query = index.vector(article_id)
    if query is None:
        return None
    hits = index.search(query, params.candidates + 1)
    joined: list[str] = []
    if ranker.lexical is not None:
        joined += [i for i, _ in ranker.lexical.neighbours(article_id, params.candidates)]
    if params.popular_candidates > 0:
        joined += itertools.islice(ranker.popularity.ranked(now), params.popular_candidates)
    seen = {candidate_id for candidate_id, _ in hits}
    extra = [i for i in dict.fromkeys(joined) if i not in seen and i in index]
    if extra:
        extra_sims = index.vectors(extra) @ query
        hits += [(i, float(sim)) for i, sim in zip(extra, extra_sims, strict=True)]
    cards: list[Card] = []
    sims: list[float] = []
    for candidate_id, sim in hits:
        card = ranker.catalog.get(candidate_id)
        if card is None or not reference_passes(
            card, article_id, exclude, section, max_age_days, now
        ):
            continue
        if sim >= params.near_duplicate_threshold:
            continue
        cards.append(card)
        sims.append(sim)
    return cards, reference_scores(ranker, article_id, cards, np.array(sims), now)


def reference_passes(
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


def reference_features(
    ranker: Ranker, query: Card | None, cards: Sequence[Card], sims: np.ndarray, now: float
) -> list[dict[str, float]]:
    ids = [c.id for c in cards]
    popularity = ranker.popularity.normalised(ids, now) if ids else np.zeros(0)
    lexical = (
        ranker.lexical.similarities(query.id, ids)
        if ranker.lexical is not None and query is not None and ids
        else np.zeros(len(ids))
    )
    half_life = ranker.params.freshness_half_life_days * DAY
    out = []
    for card, sim, pop, lex in zip(
        cards, relative_similarity(sims), popularity, lexical, strict=True
    ):
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


def reference_scores(
    ranker: Ranker, query_id: str, cards: Sequence[Card], sims: np.ndarray, now: float
) -> list[float]:
    query_card = ranker.catalog.get(query_id)
    features = reference_features(ranker, query_card, cards, sims, now)
    blend = ranker.weights.for_query(query_card)
    return [sum(blend.get(name, 0.0) * value for name, value in f.items()) for f in features]


def reference_select(
    ranker: Ranker, cards: Sequence[Card], scores: Sequence[float], k: int, use_mmr: bool
) -> list[int]:
    if not cards:
        return []
    params = ranker.params
    head = sorted(range(len(cards)), key=lambda i: -scores[i])[: max(k * 10, 40)]
    vectors = ranker.index.vectors([cards[i].id for i in head])
    chosen: list[int] = []
    lam = params.mmr_lambda if use_mmr else 1.0
    remaining = list(range(len(head)))
    while remaining and len(chosen) < k:
        if chosen:
            max_close = (vectors[remaining] @ vectors[chosen].T).max(axis=1)
        else:
            max_close = np.zeros(len(remaining))
        best_pos, best_value = -1, -math.inf
        for pos, row in enumerate(remaining):
            if max_close[pos] >= params.near_duplicate_threshold:
                continue
            value = lam * scores[head[row]] - (1.0 - lam) * float(max_close[pos])
            if value > best_value:
                best_pos, best_value = pos, value
        if best_pos < 0:
            break
        chosen.append(remaining.pop(best_pos))
    return [head[row] for row in chosen]
