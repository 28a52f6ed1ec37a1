"""Lexical reads from precomputed neighbour lists (recommender.lexical.lists) instead of a walk
over postings lists per request, and the writes that keep the lists in step.

Reads: a list's live rows are scored again with today's statistics (exact BM25, a few hundred
rows' terms), so its scores and its order never go stale; `similarities` divides by the best of
them, as the live search divides by the best other article. A list that lost so many rows that
it cannot vouch for what is asked (fewer live rows than k, and rows were left out when it was
computed) falls back to the live search.

Writes: a published article gets its own list exactly (one live search) and enters every list
it scores above the floor of (the lists computed with one of its terms in their query, scored by
one vectorised pass); removed articles are skipped when lists are read. A batch larger than a
few percent of the corpus (a build, a start-up) computes every list in sparse matrix products.

IDF drift, the rule: who is in a list is exact when the list is computed; as the corpus changes
the statistics the lists were chosen with drift (scores do not: they are recomputed at read). A
list becomes stale once the corpus changed (articles added or removed) by `refresh_share` since
it was computed; each write then computes `refresh_per_write` stale lists again, oldest first,
and a rebuild computes all. tests/test_lexical_lists.py measures the overlap with the live
search after the corpus grew by half through publishes.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np

from recommender.component_configs import LexicalListsConfig
from recommender.lexical.batch import all_scores
from recommender.lexical.index import K1, QUERY_TERMS, LexicalIndex
from recommender.lexical.lists import LexicalLists
from recommender.lexical.query_rows import ForwardScores, QueryRows
from recommender.lexical.row_sums import ChosenSums, relative

BULK_SHARE = 0.02  # a batch above this share of the corpus computes every list at once
BULK_MIN = 256
CACHE = 256  # lists scored again, kept until the next write (Lees ook reads one list twice)


@dataclass(frozen=True, slots=True)
class Listed:
    """A list as read: its live rows ascending, their scores now, the best of them, and the
    query they were scored by (which scores the other candidates too)."""

    rows: np.ndarray
    raw: np.ndarray
    top: float
    scores: QueryRows


class ListedLexical:
    """The lexical index's reads through neighbour lists (`lists` None: not computed yet)."""

    def __init__(
        self, index: LexicalIndex, config: LexicalListsConfig, lists: LexicalLists | None = None
    ) -> None:
        self.index = index
        self.config = config
        self.lists = lists
        self._cache: OrderedDict[int, Listed] = OrderedDict()
        self._sums = ChosenSums()  # scratch arrays the queries' reads share
        self._forward = ForwardScores()
        index.on_renumber = self.renumbered

    # reads ------------------------------------------------------------------------------------

    def _listed(self, row: int, need: int) -> Listed | None:
        """row's list scored now; None when row has no list or its list cannot vouch for need
        rows."""
        lists = self.lists
        if lists is None or row >= len(lists.known) or not lists.known[row]:
            return None
        found = self._cache.get(row)
        if found is None:
            entries = lists.entries(row)
            if self.index.alive_count < len(self.index.ids):  # removed rows stay listed
                entries = entries[self.index.alive.take(entries)]  # int32 rows: take is faster
            entries.sort()  # a copy already: sorted in place
            # scored at the rows read only: raw_scores' sums over every row the query reaches
            # cost a sort of those rows and a search in them more (a miss here: ~220 -> ~175 us
            # at 100k articles, ~170 -> ~150 at 10k)
            scores = QueryRows(self.index, row, self._sums, self._forward)
            raw = scores.at(entries)
            top = float(np.maximum.reduce(raw)) if len(raw) else 0.0  # not raw.max(): 2 us
            found = Listed(entries, raw, top, scores)
            self._cache[row] = found
            if len(self._cache) > CACHE:
                self._cache.popitem(last=False)
        if len(found.rows) < need and lists.floor[row] > 0:
            return None
        return found

    def neighbours(self, article_id: str, k: int) -> list[tuple[str, float]]:
        """The k articles most like this one (itself left out), best first."""
        row = self.index.rows.get(article_id)
        if row is None or k <= 0:
            return []
        found = self._listed(row, k)
        if found is None:
            return self.index.neighbours(article_id, k)
        if found.top <= 0:
            return []  # nothing scores (relative: all 0)
        # relative's floats, negated for the sort in the same step: raw <= top, so raw / top
        # needs no cap at 1, and raw / -top is -(raw / top) to the bit
        negated = found.raw / -found.top
        order = negated.argsort(kind="stable")[:k]
        scores = (-negated[order]).tolist()
        while scores and scores[-1] <= 0:  # best first: the rows scoring 0 come last
            scores.pop()
        ids = cast("list[str]", self.index.ids)  # a listed row is alive: it has its id
        rows = found.rows[order[: len(scores)]].tolist()
        return list(zip(map(ids.__getitem__, rows), scores, strict=True))

    def similarities(self, article_id: str, candidate_ids: Sequence[str]) -> np.ndarray:
        """Each candidate's similarity to the article in [0, 1] (0 for unknown ids)."""
        return self.similarities_at(article_id, self.index.rows_of(candidate_ids))

    def similarities_at(self, article_id: str, rows: np.ndarray) -> np.ndarray:
        """similarities of candidates given by row (index.rows_of: -1 for an unknown id)."""
        row = self.index.rows.get(article_id)
        if row is None or not len(rows):
            return np.zeros(len(rows))
        found = self._listed(row, 1)
        if found is None:
            return self.index.similarities_at(article_id, rows)
        return relative(found.scores.at(rows), found.top)

    # writes -----------------------------------------------------------------------------------

    def after_write(self, added: Sequence[str]) -> None:
        """Bring the lists in step after articles were added (or re-added) and removed."""
        self._cache.clear()
        if self.config.depth <= 0:
            return
        bulk = max(BULK_MIN, BULK_SHARE * len(self.index))
        if self.lists is None or len(added) > bulk:
            self.compute_all()
            return
        for article_id in added:
            row = self.index.rows.get(article_id)
            if row is not None:
                self._enter(row)
        self.refresh(self.config.refresh_per_write)
        self.lists.maybe_reindex(len(self.index.vocabulary))

    def compute_all(self) -> None:
        """Every live row's list, exact, in sparse matrix products."""
        self._cache.clear()
        index = self.index
        self.lists = LexicalLists(self.config.depth, QUERY_TERMS, len(index.ids))
        alive = np.flatnonzero(index.alive[: len(index.ids)])
        for row, rows, values, query in all_scores(index, alive):
            self._set(row, rows, values, query, track=False)
        self.lists.reindex(len(index.vocabulary))

    def _set(
        self, row: int, rows: np.ndarray, values: np.ndarray, query: np.ndarray, track: bool = True
    ) -> None:
        """row's list from every row its query scores (itself left out)."""
        assert self.lists is not None
        depth = self.config.depth
        if len(rows) > depth:
            top = np.argpartition(-values, depth)[: depth + 1]
            top = top[np.lexsort((rows[top], -values[top]))]  # best first, ties by row
            floor = float(values[top[depth]])  # the best row left out
            top = top[:depth]
        else:
            top = np.lexsort((rows, -values))
            floor = 0.0
        stamp = self.index.changes
        self.lists.set_list(row, rows[top], values[top], floor, stamp, query, track)

    def _enter(self, row: int) -> None:
        """A new row: its own list by a live search, and its place in every list it beats."""
        assert self.lists is not None
        index = self.index
        rows, values = index.raw_scores(row)
        others = (rows != row) & (values > 0)
        self._set(row, rows[others], values[others], index.row_query(row))
        terms, tf = index.forward.row(row)
        tf32 = tf.astype(np.float32)
        weight = index.idf(terms) * tf32 * (K1 + 1.0) / (tf32 + index.norm(np.array([row])))
        # an upper bound of each list owner's score for the new row, from the owners of its
        # terms (a superset): only the few whose bound beats their floor are scored exactly
        owners, which = self.lists.owners(terms)
        count = len(self.lists.floor)
        bound = np.bincount(owners, weight[which], minlength=count)[:count]
        beats = bound > self.lists.floor
        beats[row] = False
        candidates = np.flatnonzero(
            beats[: len(index.ids)] & index.alive[: min(count, len(index.ids))]
        )
        if not len(candidates):
            return
        order = np.argsort(terms)
        sorted_terms, sorted_weight = terms[order], weight[order]
        queries = self.lists.queries[candidates]
        at = np.minimum(np.searchsorted(sorted_terms, queries), len(sorted_terms) - 1)
        hit = (sorted_terms[at] == queries) & (queries >= 0)
        self.lists.insert(candidates, row, np.where(hit, sorted_weight[at], 0.0).sum(axis=1))

    def refresh(self, limit: int) -> int:
        """Compute again up to limit stale lists (the oldest first); how many."""
        lists, index = self.lists, self.index
        if lists is None or limit <= 0:
            return 0
        count = min(len(index.ids), len(lists.known))
        age = index.changes - lists.stamp[:count]
        stale = lists.known[:count] & index.alive[:count]
        stale &= age > self.config.refresh_share * max(len(index), 1)
        rows = np.flatnonzero(stale)
        rows = rows[np.argsort(lists.stamp[rows], kind="stable")[:limit]]
        for row in rows.tolist():
            found, values = index.raw_scores(row)
            others = (found != row) & (values > 0)
            self._set(row, found[others], values[others], index.row_query(row))
        return len(rows)

    def renumbered(self, new_of_old: np.ndarray) -> None:
        self._cache.clear()
        if self.lists is not None:
            self.lists = self.lists.renumbered(new_of_old, len(self.index.vocabulary))
