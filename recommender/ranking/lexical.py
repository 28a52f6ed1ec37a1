"""Lexical ("more like this") similarity between stored articles: TF-IDF with scikit-learn."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer


class TfidfLexical:
    """TF-IDF cosine between stored articles (sublinear tf, words in more than half of the
    corpus dropped, so no language-specific stop list is needed)."""

    def __init__(self, ids: Sequence[str], texts: Sequence[str]) -> None:
        self._row = {article_id: row for row, article_id in enumerate(ids)}
        self._ids = list(ids)
        vectorizer = TfidfVectorizer(sublinear_tf=True, max_df=0.5, strip_accents="unicode")
        self._matrix: Any = vectorizer.fit_transform(texts) if texts else None
        self._neighbours: dict[str, list[tuple[str, float]]] = {}

    def _sims(self, article_id: str) -> np.ndarray | None:
        row = self._row.get(article_id)
        if row is None or self._matrix is None:
            return None
        dense: np.ndarray = (self._matrix @ self._matrix[row].T).toarray().ravel()
        return dense

    def neighbours(self, article_id: str, k: int) -> list[tuple[str, float]]:
        cached = self._neighbours.get(article_id)
        if cached is not None and len(cached) >= k:
            return cached[:k]
        sims = self._sims(article_id)
        if sims is None:
            return []
        fetch = min(len(sims), k + 1)
        top = np.argpartition(-sims, fetch - 1)[:fetch]
        top = top[np.argsort(-sims[top], kind="stable")]
        hits = [(self._ids[i], float(sims[i])) for i in top if self._ids[i] != article_id][:k]
        self._neighbours[article_id] = hits
        return hits

    def similarities(self, article_id: str, candidate_ids: Sequence[str]) -> np.ndarray:
        row = self._row.get(article_id)
        rows = [self._row.get(i, -1) for i in candidate_ids]
        if row is None or self._matrix is None:
            return np.zeros(len(candidate_ids))
        known = [r for r in rows if r >= 0]
        out = np.zeros(len(candidate_ids))
        if known:
            sims = (self._matrix[known] @ self._matrix[row].T).toarray().ravel()
            out[[i for i, r in enumerate(rows) if r >= 0]] = sims
        return out
