"""Ranking: candidates → filters → features → learned blend → MMR → fallback (ranker), the blend
(weights), its file (ranker_file), what scoring reads (scoring) and A/B variants (variants)."""

from recommender.ranking.features import FEATURES
from recommender.ranking.lists import Item, RankedList
from recommender.ranking.ranker import CoReadSource, Lexical, Ranker, Scored
from recommender.ranking.weights import Weights

__all__ = [
    "FEATURES",
    "CoReadSource",
    "Item",
    "Lexical",
    "RankedList",
    "Ranker",
    "Scored",
    "Weights",
]
