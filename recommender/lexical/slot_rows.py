"""The index row of each candidate by the caller's stable number for its article (a catalogue
slot), so a request probes the id dict only for articles it has not met before: ~200 probes by
string id cost 30-40 us a Lees-ook request at 10k (more with cold caches), an array gather a few.

Exact under writes without being told of them: a row number is never reused between
compactions and an article indexed again gets a new row (its old one dies), so a remembered row
that is still alive still holds its article. A compaction renumbers rows: `renumbered` moves the
map along, and a renumbering it was not told of (index.renumberings moved) drops it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recommender.lexical.index import LexicalIndex

UNKNOWN = -1  # no row remembered: looked up by id


class SlotRows:
    """Index rows by slot, for one owner of the slots (slots of another owner start afresh)."""

    def __init__(self, index: LexicalIndex) -> None:
        self.index = index
        self._rows = np.full(1, UNKNOWN, dtype=np.int64)  # past every slot kept: UNKNOWN
        self._owner: object = None  # held, so that no other object can take its identity
        self._renumberings = index.renumberings

    def _reset(self, owner: object) -> None:
        self._rows = np.full(1, UNKNOWN, dtype=np.int64)
        self._owner = owner
        self._renumberings = self.index.renumberings

    def of(self, article_ids: Sequence[str], slots: np.ndarray, owner: object) -> np.ndarray:
        """The index row of each article (UNKNOWN: not indexed), given its slot, a number that
        names the article for good within owner."""
        index = self.index
        if owner is not self._owner or index.renumberings != self._renumberings:
            self._reset(owner)
        if not len(slots) or not len(index.alive):
            return index.rows_of(article_ids)
        # a slot past the map reads its last place, never written (UNKNOWN), and is looked up
        # below: no bound to find first (a reduction over the slots and a test: ~2 us)
        rows: np.ndarray = self._rows.take(slots, mode="clip")
        # not alive, or UNKNOWN (which reads alive[-1]: the test of rows < 0 decides for it)
        stale = (index.alive[rows] <= (rows < 0)).nonzero()[0]
        if len(stale):
            found = index.rows_of([article_ids[i] for i in stale.tolist()])
            rows[stale] = found
            self._remember(slots[stale], found)
        return rows

    def _remember(self, slots: np.ndarray, rows: np.ndarray) -> None:
        """Keep the rows of slots, with room past the largest slot (its last place UNKNOWN)."""
        top = int(np.maximum.reduce(slots)) + 1
        if top >= len(self._rows):
            grown = np.full(max(2 * len(self._rows), top + 1024), UNKNOWN, dtype=np.int64)
            grown[: len(self._rows)] = self._rows
            self._rows = grown
        self._rows[slots] = rows

    def renumbered(self, new_of_old: np.ndarray) -> None:
        """The index renumbered its rows (new_of_old[r], -1: dropped): remembered rows move."""
        if self._renumberings != self.index.renumberings - 1:
            self._reset(self._owner)  # a renumbering was missed: nothing remembered holds
            return
        known = np.flatnonzero(self._rows >= 0)
        self._rows[known] = new_of_old[self._rows[known]]
        self._renumberings = self.index.renumberings
