"""Term-major postings in flat numpy arrays: for term t, rows[indptr[t]:indptr[t + 1]] are the
articles holding it and tf the counts. Six bytes a posting, no Python object per term."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recommender.lexical.forward import Forward


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


def build_segment(forward: Forward, n_terms: int) -> Segment:
    """The term-major postings of every row of forward (row = its row number there)."""
    terms, tf = forward.terms, forward.tf
    lengths = np.diff(forward.indptr)
    rows = np.repeat(np.arange(forward.rows, dtype=np.int32), lengths)
    # stable: each term's rows stay in ascending order
    order = np.argsort(terms, kind="stable")
    counts = np.bincount(terms, minlength=n_terms)
    indptr = np.zeros(n_terms + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return Segment(indptr, rows[order], tf[order])
