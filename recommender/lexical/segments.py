"""Term-major postings in flat numpy arrays: for term t, rows[indptr[t]:indptr[t + 1]] are the
articles holding it and tf the counts. Six bytes a posting, no Python object per term."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Segment:
    indptr: np.ndarray  # int64, one more than the terms it covers
    rows: np.ndarray  # int32
    tf: np.ndarray  # uint16

    @classmethod
    def empty(cls) -> Segment:
        return cls(
            np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.uint16)
        )

    def postings(self, term: int) -> tuple[np.ndarray, np.ndarray]:
        if term + 1 >= len(self.indptr):
            return self.rows[:0], self.tf[:0]  # a term first seen after this segment was built
        start, stop = int(self.indptr[term]), int(self.indptr[term + 1])
        return self.rows[start:stop], self.tf[start:stop]

    @property
    def nbytes(self) -> int:
        return int(self.indptr.nbytes + self.rows.nbytes + self.tf.nbytes)


def build_segment(
    doc_terms: Sequence[np.ndarray], doc_tf: Sequence[np.ndarray], n_terms: int
) -> Segment:
    """One segment from per-article term ids and counts (row = position in the sequences)."""
    if not doc_terms:
        return Segment(
            np.zeros(n_terms + 1, dtype=np.int64),
            np.zeros(0, dtype=np.int32),
            np.zeros(0, dtype=np.uint16),
        )
    terms = np.concatenate(doc_terms)
    tf = np.concatenate(doc_tf)
    lengths = np.fromiter((len(t) for t in doc_terms), np.int64, len(doc_terms))
    rows = np.repeat(np.arange(len(doc_terms), dtype=np.int32), lengths)
    # stable: each term's rows stay in ascending order
    order = np.argsort(terms, kind="stable")
    counts = np.bincount(terms, minlength=n_terms)
    indptr = np.zeros(n_terms + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return Segment(indptr, rows[order], tf[order])
