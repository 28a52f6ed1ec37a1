"""Ranking: candidates → filters → features → learned blend → MMR → fallback (ranker), the blend
(weights), its file (ranker_file) and the lexical signal (lexical)."""

from recommender.ranking.features import FEATURES
from recommender.ranking.lists import Item, RankedList
from recommender.ranking.ranker import Lexical, Ranker, Scored
from recommender.ranking.weights import Weights

__all__ = ["FEATURES", "Item", "Lexical", "RankedList", "Ranker", "Scored", "Weights"]
