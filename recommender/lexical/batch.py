"""Every article's "more like this" scores at once, as sparse matrix products (the one user of
scipy): queries (articles x terms, IDF on each article's query terms) times the BM25 term
weights of every article (terms x articles). The same numbers the postings walk of
LexicalIndex.raw_scores gives one query at a time, a block of queries per product."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp

from recommender.lexical.index import K1, LexicalIndex

BLOCK = 256  # queries per product: a block's result stays within tens of MB at 1M articles


def term_weights(index: LexicalIndex) -> sp.csr_matrix:
    """terms x rows: each posting's BM25 term frequency part (dead rows left out)."""
    forward = index.forward
    lengths = np.diff(forward.indptr)
    rows = np.repeat(np.arange(forward.rows), lengths)
    tf = forward.tf.astype(np.float32)
    values = tf * (K1 + 1.0) / (tf + index.norm(rows))
    values[~index.alive[rows]] = 0.0
    # copy=True: the matrix would share the forward index's terms, which eliminate_zeros (the
    # dead rows' postings) shifts in place
    docs = sp.csr_matrix(
        (values, forward.terms, forward.indptr),
        shape=(forward.rows, len(index.vocabulary)),
        copy=True,
    )
    docs.eliminate_zeros()
    return docs.T.tocsr()


def all_scores(
    index: LexicalIndex, query_rows: np.ndarray
) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """(row, rows sharing a query term with it (itself left out), their scores, its query
    terms) for each of query_rows."""
    weights = term_weights(index)
    for lo in range(0, len(query_rows), BLOCK):
        block = query_rows[lo : lo + BLOCK].tolist()
        queries = [index.row_query(row) for row in block]
        lengths = np.fromiter((len(q) for q in queries), np.int64, len(queries))
        indptr = np.zeros(len(block) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        terms = np.concatenate(queries) if queries else np.zeros(0, dtype=np.int32)
        matrix = sp.csr_matrix(
            (index.idf(terms), terms, indptr), shape=(len(block), len(index.vocabulary))
        )
        scores = (matrix @ weights).tocsr()
        for i, row in enumerate(block):
            start, stop = scores.indptr[i], scores.indptr[i + 1]
            rows, values = scores.indices[start:stop], scores.data[start:stop]
            others = (rows != row) & (values > 0)
            yield row, rows[others], values[others], queries[i]
