"""An inverted BM25 index for "more like this": an article's query is its own top terms by
tf-idf (as Elasticsearch's more-like-this does), so a query touches a few short postings
lists and stays well under a millisecond at 100k articles.

Postings live in one compact segment (numpy arrays, term-major) plus a small live segment of
articles added since; deleted articles are masked at once. `compact` merges both (on save, and
when the live part grows), so writes are O(terms of the article) and reads never wait long.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from itertools import repeat

import numpy as np

from recommender.lexical.forward import Forward, _grow
from recommender.lexical.postings import Live, query_postings
from recommender.lexical.row_sums import RowSums, relative
from recommender.lexical.segments import Segment, build_segment

K1 = 1.2
B = 0.75
QUERY_TERMS = 25  # terms of the article that make its query
# terms in more than this share of the articles never make a query: they barely tell articles
# apart (idf < 2.4) and their long postings lists would dominate the query time
MAX_DF = 0.1
MIN_DOCS_FOR_MAX_DF = 50  # below this the share is meaningless
# postings one query may read: its rarest terms come first, so a budget cuts only common ones
POSTINGS_BUDGET = 8_000
CACHE = 256  # query results kept until the next write (Lees ook asks twice per request)
# -(1 + ln(tf)) for every uint16 count: a query's negated weights in a gather and a product (the
# same floats: numpy's log is elementwise, checked for every count; (-a) * b is -(a * b))
_NEG_LOG_TF = -np.concatenate(
    ([0.0], 1.0 + np.log(np.arange(1, 1 << 16, dtype=np.uint16), dtype=np.float64))
)


def posting_values(idf: np.ndarray, counts: np.ndarray, norm: np.ndarray) -> np.ndarray:
    """Each posting's BM25 value from its term's idf (float64), its count (uint16) and its row's
    norm (float32): every way of scoring computes this, so all agree to the bit. The counts stay
    uint16: added to the float32 norm and multiplied by the float64 idf they are cast exactly as
    a float32 copy would be (one numpy call less)."""
    values: np.ndarray = idf * counts * (K1 + 1.0) / (counts + norm)
    return values


class LexicalIndex:
    """BM25 over analysed articles; rows are stable until `compact` renumbers them."""

    def __init__(self) -> None:
        self.vocabulary: dict[str, int] = {}
        self.df = np.zeros(0, dtype=np.int32)
        self.ids: list[str | None] = []
        self.rows: dict[str, int] = {}
        self.hashes: dict[str, str] = {}
        self.forward = Forward()  # each row's terms and counts
        self.doc_len = np.zeros(0, dtype=np.float32)
        self.alive = np.zeros(0, dtype=bool)
        self.base = Segment.empty()
        self.live: Live = {}
        self.live_docs = 0
        self.alive_count = 0
        self.total_len = 0.0
        self._cache: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._sums = RowSums()
        # rows added or removed so far: the age of anything computed from the corpus statistics
        self.changes = 0
        # told the old row → new row map (-1: dropped) whenever compact renumbers rows
        self.on_renumber: Callable[[np.ndarray], None] | None = None
        self.renumberings = 0  # times compact renumbered rows: the age of anything kept by row

    def __len__(self) -> int:
        return self.alive_count

    def __contains__(self, article_id: object) -> bool:
        return article_id in self.rows

    def content_hash(self, article_id: str) -> str | None:
        return self.hashes.get(article_id)

    # writes -----------------------------------------------------------------------------------

    def upsert(self, article_id: str, terms: Sequence[str], content_hash: str = "") -> None:
        """Index (or re-index) one article from its analysed terms; searchable at once."""
        self.upsert_many([(article_id, terms, content_hash)])

    def upsert_many(self, docs: Sequence[tuple[str, Sequence[str], str]]) -> None:
        """Index (id, terms, content hash) triples. A batch larger than the live segment may
        grow goes straight into a new compact segment (a build), smaller ones into the live
        segment (writes through the API)."""
        self.remove([article_id for article_id, _, _ in docs])
        bulk = len(docs) > self._live_limit()
        for article_id, terms, content_hash in docs:
            row, term_ids, tf = self._append(article_id, terms, content_hash)
            if bulk:
                continue
            for term, count in zip(term_ids.tolist(), tf.tolist(), strict=True):
                rows, tfs = self.live.setdefault(term, ([], []))
                rows.append(row)
                tfs.append(count)
            self.live_docs += 1
        self._cache.clear()
        if bulk or self.live_docs > self._live_limit():
            self.compact()

    def _live_limit(self) -> int:
        return max(2_000, len(self.rows) // 5)

    def _append(
        self, article_id: str, terms: Sequence[str], content_hash: str
    ) -> tuple[int, np.ndarray, np.ndarray]:
        counts = Counter(terms)
        term_ids = np.fromiter((self._term_id(t) for t in counts), np.int32, len(counts))
        tf = np.fromiter((min(c, 65_535) for c in counts.values()), np.uint16, len(counts))
        row = self.forward.append(term_ids, tf)
        self.ids.append(article_id)
        self.rows[article_id] = row
        self.hashes[article_id] = content_hash
        self.changes += 1
        length = float(tf.sum())
        self.doc_len = _grow(self.doc_len, row + 1)
        self.doc_len[row] = length
        self.alive = _grow(self.alive, row + 1)
        self.alive[row] = True
        self.df[term_ids] += 1
        self.alive_count += 1
        self.total_len += length
        return row, term_ids, tf

    def remove(self, article_ids: Sequence[str]) -> None:
        """Gone from every result at once; the postings are dropped at the next compaction."""
        for article_id in article_ids:
            row = self.rows.pop(article_id, None)
            if row is None:
                continue
            self.hashes.pop(article_id, None)
            self.ids[row] = None
            self.alive[row] = False
            self.df[self.forward.row(row)[0]] -= 1
            self.changes += 1
            self.alive_count -= 1
            self.total_len -= float(self.doc_len[row])
            self._cache.clear()

    def _term_id(self, term: str) -> int:
        found = self.vocabulary.get(term)
        if found is None:
            found = len(self.vocabulary)
            self.vocabulary[term] = found
            self.df = _grow(self.df, found + 1)
        return found

    def compact(self) -> None:
        """Renumber the live rows densely and merge every posting into one segment."""
        keep = np.flatnonzero(self.alive[: len(self.ids)])
        renumbered = len(keep) < len(self.ids)
        new_of_old = np.full(len(self.ids), -1, dtype=np.int64)
        new_of_old[keep] = np.arange(len(keep))
        self.ids = [self.ids[row] for row in keep.tolist()]
        self.rows = {article_id: n for n, article_id in enumerate(self.ids) if article_id}
        self.forward = self.forward.select(keep)
        self.doc_len = self.doc_len[keep]
        self.alive = np.ones(len(keep), dtype=bool)
        self.base = build_segment(self.forward, len(self.vocabulary))
        self.live = {}
        self.live_docs = 0
        self._cache.clear()
        self.renumberings += renumbered
        if renumbered and self.on_renumber is not None:
            self.on_renumber(new_of_old)

    # reads ------------------------------------------------------------------------------------

    def idf(self, term_ids: np.ndarray) -> np.ndarray:
        return self._idf_of(self.df[term_ids])

    def _idf_of(self, df: np.ndarray) -> np.ndarray:
        n = float(self.alive_count)
        # float64 throughout (the Python float): (n + 0.5) - df is one array step less than
        # n - df + 0.5 and the same float (counts and halves far below 2^53: each step exact)
        values: np.ndarray = np.log1p((n + 0.5 - df) / (df + 0.5))
        return values

    def row_query(self, row: int, limit: int = QUERY_TERMS) -> np.ndarray:
        """The most telling terms of the article at row: tf-idf, leaving out terms no other
        article has and terms too common to tell articles apart."""
        return self.weighted_query(row, limit)[0]

    def weighted_query(self, row: int, limit: int = QUERY_TERMS) -> tuple[np.ndarray, np.ndarray]:
        """row_query's terms and their IDF (computed once: every request asks for both)."""
        terms, tf = self.forward.row(row)
        df = self.df.take(terms)  # take: a fancy index by int32 ids costs ~1 us more
        common = MAX_DF * self.alive_count if self.alive_count >= MIN_DOCS_FOR_MAX_DF else np.inf
        useful = (df >= 2) & (df <= common)
        terms, tf, df = terms[useful], tf[useful], df[useful]
        idf = self._idf_of(df)
        negated = _NEG_LOG_TF.take(tf) * idf  # -(tf-idf)
        # array methods, not np.argsort and friends: their wrappers cost 1-2 us a call
        top = negated.argsort(kind="stable")[:limit]
        if len(top) * common > POSTINGS_BUDGET:  # else each term's df <= common: within budget
            spent = df[top].cumsum()
            if spent[-1] > POSTINGS_BUDGET:  # rarely: most queries' terms are rare
                within = spent <= POSTINGS_BUDGET
                within[:1] = True  # the best term always counts
                top = top[within]
        return terms[top], idf[top]

    def _scores(self, article_id: str) -> tuple[np.ndarray, np.ndarray]:
        """Rows (sorted) that share a query term with the article and their BM25 scores divided
        by the best score of another article: the most alike article scores 1.0."""
        cached = self._cache.get(article_id)
        if cached is not None:
            self._cache.move_to_end(article_id)
            return cached
        row = self.rows[article_id]
        unique, scores = self.raw_scores(row)
        # relative to the best other article (as similarity is relative to the best
        # neighbour): a long query article's score against itself would dwarf every other
        own = np.searchsorted(unique, row)
        others = np.ones(len(unique), dtype=bool)
        if own < len(unique) and unique[own] == row:
            others[own] = False
        top = float(scores[others].max()) if others.any() else 0.0
        result = (unique, relative(scores, top))
        self._cache[article_id] = result
        if len(self._cache) > CACHE:
            self._cache.popitem(last=False)
        return result

    def raw_scores(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """The BM25 score of row's query against every live row sharing a query term with it
        (itself included): (rows ascending, scores), by a walk over the query's postings."""
        return self._sums.accumulate(*self.query_values(*self.weighted_query(row)), len(self.ids))

    def query_values(self, terms: np.ndarray, idf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows, BM25 values) of the postings of a query (weighted_query) on live rows, each
        row's values in query-term order (postings.query_postings): the parts a score sums."""
        rows, counts, idf = query_postings(self.base, self.live, len(self.vocabulary), terms, idf)
        # int64 once: the gathers and scatters by row below skip a conversion each (~1 us)
        rows = rows.astype(np.int64)
        values = posting_values(idf, counts, self.norm(rows))
        if self.alive_count == len(self.ids):
            return rows, values
        live = self.alive.take(rows)  # removed rows' postings stay until the next compaction
        return rows[live], values[live]

    def norm(self, rows: np.ndarray) -> np.ndarray:
        """BM25's length normalisation of rows (float32, as every score is computed with it)."""
        avgdl = self.total_len / max(self.alive_count, 1)
        norm: np.ndarray = K1 * (1.0 - B + B * self.doc_len[rows] / avgdl)
        return norm

    def neighbours(self, article_id: str, k: int) -> list[tuple[str, float]]:
        """The k articles most like this one (itself left out), best first."""
        if article_id not in self.rows:
            return []
        rows, scores = self._scores(article_id)
        own = self.rows[article_id]
        fetch = min(len(rows), k + 1)
        if fetch == 0:
            return []
        top = np.argpartition(-scores, fetch - 1)[:fetch]
        top = top[np.argsort(-scores[top], kind="stable")]
        picked = zip(rows[top].tolist(), scores[top].tolist(), strict=True)
        found = [(self.ids[row], score) for row, score in picked if row != own and score > 0]
        return [(str(article_id), score) for article_id, score in found[:k]]

    def similarities(self, article_id: str, candidate_ids: Sequence[str]) -> np.ndarray:
        """Each candidate's similarity to the article in [0, 1] (0 for unknown ids)."""
        return self.similarities_at(article_id, self.rows_of(candidate_ids))

    def rows_of(self, article_ids: Sequence[str]) -> np.ndarray:
        """The row of each id (-1: not indexed)."""
        return np.fromiter(map(self.rows.get, article_ids, repeat(-1)), np.int64, len(article_ids))

    def similarities_at(self, article_id: str, wanted: np.ndarray) -> np.ndarray:
        """similarities of candidates given by row (rows_of: -1 for an unknown id)."""
        out = np.zeros(len(wanted))
        if article_id not in self.rows or not len(wanted):
            return out
        rows, scores = self._scores(article_id)
        at = np.minimum(np.searchsorted(rows, wanted), max(len(rows) - 1, 0))
        if len(rows):
            hit = (wanted >= 0) & (rows[at] == wanted)
            out[hit] = scores[at[hit]]
        return out
