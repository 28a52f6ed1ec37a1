"""The postings of a query's terms across the index's two segments (the compact one and the
live one of articles added since), in the order every score sums them: the compact segment's
term after term, then the live segment's term after term. A row lives in one of them, so each
row's postings come in query-term order."""

from __future__ import annotations

import numpy as np

from recommender.lexical.forward import spans, spans_between
from recommender.lexical.segments import Segment

Live = dict[int, tuple[list[int], list[int]]]  # term -> (rows, counts) added since compaction


def query_postings(
    base: Segment, live: Live, n_terms: int, terms: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, counts, its term's weight) of every posting of terms (n_terms: the vocabulary's
    size): the compact segment's in one gather, then the live segment's."""
    indptr = base.indptr
    if not live and n_terms < len(indptr):
        # the common case, in fewer steps: every term in the compact segment (the vocabulary
        # only grows: no term is past it), no other
        at, lengths = spans_between(indptr.take(terms), indptr.take(terms + 1))
        return base.rows[at], base.tf[at], weights.repeat(lengths)
    covered = terms[terms + 1 < len(indptr)]
    starts = indptr[covered]
    lengths = indptr[covered + 1] - starts
    at = spans(starts, lengths)
    rows, tf = [base.rows[at]], [base.tf[at]]
    which = [np.repeat(np.flatnonzero(terms + 1 < len(indptr)), lengths)]
    for i, term in enumerate(terms.tolist() if live else ()):
        extra = live.get(term)
        if extra is not None:
            rows.append(np.asarray(extra[0], dtype=np.int32))
            tf.append(np.asarray(extra[1], dtype=np.uint16))
            which.append(np.full(len(extra[0]), i))
    return np.concatenate(rows), np.concatenate(tf), weights[np.concatenate(which)]
