"""Lexical signals: language-aware analysis (analysis), the BM25 "more like this" index
(index, segments, storage, search) and salient names (names)."""

from recommender.lexical.search import LexicalSearch

__all__ = ["LexicalSearch"]
