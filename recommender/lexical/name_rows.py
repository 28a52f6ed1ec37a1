"""The NameTable row of every LexicalIndex row, so a request looks each candidate id up once (in
the index) for both of its lexical features: a dict lookup per id costs more than the rest of
the name overlap.

Kept in step by LexicalSearch's writes (the rows they add are linked) and the index's
renumbering (a compaction on save); after any change it did not see (a compaction within a
write, a write straight to the index or the table) it is rebuilt from the ids at the next read.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat

import numpy as np

from recommender.lexical.forward import _grow
from recommender.lexical.index import LexicalIndex
from recommender.lexical.name_table import EMPTY_ROW, NameTable

Stamp = tuple[int, int, int, int]
Before = tuple[bool, int, int]


class NameRows:
    """Name-table rows by index row (EMPTY_ROW: the article has no names)."""

    def __init__(self, index: LexicalIndex, table: NameTable) -> None:
        self.index = index
        self.table = table
        # int64: the key grid's gathers by these rows take numpy's fast path (int32: converted)
        self._of = np.zeros(0, dtype=np.int64)
        self._stamp: Stamp | None = None

    def _now(self) -> Stamp:
        """What the map was built from: rows added or removed, row count, table writes."""
        index, table = self.index, self.table
        return index.changes, len(index.ids), table.version, table.compactions

    def is_current(self) -> bool:
        return self._stamp == self._now()

    def before_write(self) -> Before:
        return self.is_current(), len(self.index.ids), self.table.compactions

    def after_write(self, before: Before, article_ids: Sequence[str]) -> None:
        """Link the articles just written (one new index row each) to their table rows, when
        the map was current before and nothing was renumbered since."""
        current, rows, compactions = before
        if not current or self.table.compactions != compactions:
            return
        if len(self.index.ids) != rows + len(article_ids):
            return  # a compaction renumbered the index's rows
        found = self.index.rows_of(article_ids)
        self._of = _grow(self._of, len(self.index.ids))
        self._of[found] = self._table_rows(article_ids)
        self._stamp = self._now()

    def renumbered(self, new_of_old: np.ndarray) -> None:
        """The index renumbered its rows (new_of_old[r], -1: dropped) and changed nothing else
        since the map was made (a compaction on save): moved along, not rebuilt."""
        changes, rows, version, compactions = self._stamp or (-1, -1, -1, -1)
        index, table = self.index, self.table
        if (changes, rows, version, compactions) != (
            index.changes,
            len(new_of_old),
            table.version,
            table.compactions,
        ):
            self._stamp = None  # it was stale already, or the write goes on: rebuilt at a read
            return
        kept = np.flatnonzero(new_of_old[: len(self._of)] >= 0)
        moved = np.full(len(index.ids), EMPTY_ROW, dtype=np.int64)
        moved[new_of_old[kept]] = self._of[kept]
        self._of = moved
        self._stamp = self._now()

    def _table_rows(self, article_ids: Sequence[str]) -> np.ndarray:
        rows = self.table.rows
        return np.fromiter(map(rows.get, article_ids, repeat(EMPTY_ROW)), np.int64)

    def _rebuild(self) -> None:
        index = self.index
        self._of = np.full(len(index.ids), EMPTY_ROW, dtype=np.int64)
        rows = np.fromiter(index.rows.values(), np.int64, len(index.rows))
        self._of[rows] = self._table_rows(list(index.rows))
        self._stamp = self._now()

    def of(self, article_ids: Sequence[str], index_rows: np.ndarray) -> np.ndarray:
        """The table rows of articles, given their index rows (index.rows_of: -1 for an id not
        in the index, looked up in the table itself)."""
        if not self.is_current():
            self._rebuild()
        if not len(self._of):
            return self._table_rows(article_ids)
        found: np.ndarray = self._of[index_rows]
        unknown = (index_rows < 0).nonzero()[0]
        if len(unknown):
            found[unknown] = self._table_rows([article_ids[i] for i in unknown.tolist()])
        return found
