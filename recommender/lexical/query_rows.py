"""A query's BM25 scores at the rows a request reads (its list, then the candidates), each read
by the cheaper of two plans, with the same floats either way:

- the walk: the postings of the query's terms (LexicalIndex.query_values), computed once and
  kept for the query's next read, summed at the rows read (ChosenSums). Its cost grows with the
  terms' document frequencies: with the corpus.
- the forward read: the rows' own terms (the forward index), those that are query terms scored
  and added per row in query-term order, as the walk's postings come. Its cost grows with the
  rows' lengths: cheap for short documents in a large corpus, dear for long ones.

Measured per read, with the caches a request leaves (us; P: the walk's postings, F: the terms
of the rows read): the walk's first read 31-54 + 0.021 P (0.028 at 10k), each later one
9-12 + 0.0065 P; a forward read 52-70 + 0.009-0.021 F. A Lees-ook request reads twice: its list
(titles: F ~280), then ~200 candidates (F ~950); the walk pays off on its second read, which
FORWARD_FIXED counts in. Both reads of a request, walk against forward:
- titles, 10k articles: 67 against 145 us (P ~160): the rule walks always;
- titles, 100k: 108 against 166 (P ~1,500): the rule 108, the best of both per query 106;
- titles, 1M: 175 against 121 (P ~4,900; the budget 8,000): the rule 122, reading forward 3
  reads in 4;
- 400-word documents, real bodies at 1.4k (F ~6,800 and 19,400) and synthetic at 10k (F
  ~15,600 and 51,500): 326 against 479 and 121 against 1,050: the rule walks always.
"""

from __future__ import annotations

import numpy as np

from recommender.lexical.forward import spans as places_of
from recommender.lexical.index import LexicalIndex, posting_values
from recommender.lexical.row_sums import ChosenSums

# the costs in walk postings: a forward read's fixed cost (~35 numpy calls), with the walk's
# reuse it forgoes, and a term of the rows read (0.45-1.0 of a posting, measured)
FORWARD_FIXED = 3_000
FORWARD_PER_TERM = 0.75


class ForwardScores:
    """Scores of a query at rows from their forward lists, with a scratch array over the
    vocabulary holding each query term's place in the query (0 for every other term between
    calls)."""

    def __init__(self) -> None:
        self._place = np.zeros(0, dtype=np.int64)
        self._numbers = np.zeros(0, dtype=np.int64)

    def at(
        self,
        index: LexicalIndex,
        query: tuple[np.ndarray, np.ndarray],
        rows: np.ndarray,
        spans: tuple[np.ndarray, np.ndarray],
    ) -> np.ndarray:
        """The score of query (terms, idf) at each of rows, whose forward spans (starts, lengths:
        0 for a dead row and -1) are given."""
        terms, idf = query
        starts, lengths = spans
        ends = lengths.cumsum()
        if not len(ends) or not ends[-1]:
            return np.zeros(len(rows))
        at = places_of(starts, lengths)  # the rows' places in the forward index
        if len(self._place) < len(index.vocabulary):
            self._place = np.zeros(2 * len(index.vocabulary) + 1024, dtype=np.int64)
            self._numbers = np.arange(len(self._place))
        self._place[terms] = self._numbers[1 : len(terms) + 1]
        place = self._place.take(index.forward.terms.take(at))
        self._place[terms] = 0
        hit = place.nonzero()[0]
        place = place.take(hit)
        # bincount adds in input order: each row's values in query-term order, as the walk's
        order = place.argsort(kind="stable")
        hit = hit.take(order)
        which = ends.searchsorted(hit, "right")  # the row read of each
        counts = index.forward.tf.take(at.take(hit))
        norm = index.norm(rows.take(which))
        values = posting_values(idf.take(place.take(order) - 1), counts, norm)
        return np.bincount(which, values, minlength=len(rows))


class QueryRows:
    """One query's scores, read at rows as often as asked; the walk, once taken, is kept."""

    def __init__(
        self, index: LexicalIndex, row: int, sums: ChosenSums, forward: ForwardScores
    ) -> None:
        self.index = index
        self.query = index.weighted_query(row)
        self.walk_postings = int(index.df.take(self.query[0]).sum())  # about: dead ones too
        self._sums = sums
        self._forward = forward
        self.postings: tuple[np.ndarray, np.ndarray] | None = None

    def at(self, rows: np.ndarray) -> np.ndarray:
        """The score of each of rows (0 for a dead row and -1, an unknown article), by the
        forward read when it costs less than the walk (not taken yet: once taken, it is read)."""
        if self.postings is None and self.walk_postings > FORWARD_FIXED:
            spans = self.spans(rows)
            if FORWARD_FIXED + FORWARD_PER_TERM * spans[1].sum() < self.walk_postings:
                return self._forward.at(self.index, self.query, rows, spans)
        return self.walked(rows)

    def walked(self, rows: np.ndarray) -> np.ndarray:
        """at by the walk (taken now if not yet)."""
        if self.postings is None:
            self.postings = self.index.query_values(*self.query)
        return self._sums.at(*self.postings, rows, len(self.index.ids))

    def spans(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where the rows' terms lie in the forward index (starts, lengths), length 0 for a
        dead row and -1."""
        index = self.index
        indptr = index.forward.indptr
        starts = indptr.take(rows)
        lengths = indptr.take(rows + 1) - starts
        read = rows >= 0
        if index.alive_count < len(index.ids):
            read &= index.alive.take(rows)
        lengths *= read
        return starts, lengths
