"""Index rows to catalogue slots, by array: the candidates of a Lees-ook list come from the vector
index as rows and are filtered and scored by catalogue slot, and neither lookup should cost a
dict probe per candidate on every request."""

from __future__ import annotations

import numpy as np

from recommender.catalog import Columns
from recommender.index import VectorIndex

UNRESOLVED = -1


class RowSlots:
    """The catalogue slot of each row of one vector index, resolved once per row.

    Both numberings only ever grow and never reuse a number: a row keeps its article for good
    (a replaced or removed article leaves a tombstoned row behind, which readers skip) and an
    article keeps its slot for good. So a row resolved once stays right for the life of the
    index; a row whose article has no card yet stays unresolved and is asked again."""

    def __init__(self, index: VectorIndex, columns: Columns) -> None:
        self.index = index
        self.columns = columns
        # every row at once (one C-level probe per row: ~50 ms at 1M), so that requests after a
        # start or a swap do not pay for first sight; rows published later resolve on demand
        self._slots = columns.slots(index.row_map()[0])  # tombstones (None): unresolved
        self._marks = np.zeros(1024, dtype=bool)  # scratch for outside(), all False between calls

    def of(self, rows: np.ndarray) -> np.ndarray:
        """Slots of rows (int64), -1 for a row without a card (or a tombstoned one)."""
        if len(rows) == 0:
            return np.zeros(0, dtype=np.int64)
        top = int(rows.max())
        if top >= len(self._slots):
            grown = np.full(max(2 * len(self._slots), top + 1), UNRESOLVED, dtype=np.int64)
            grown[: len(self._slots)] = self._slots
            self._slots = grown
        slots: np.ndarray = self._slots[rows]
        missing = slots == UNRESOLVED
        if missing.any():
            # first sight of these rows (after a start or a publish): one probe each, once
            ids = self.index.ids_at(rows[missing])
            found = self.columns.slots(ids)  # -1 (UNRESOLVED) for a row still without a card
            self._slots[rows[missing]] = found
            slots[missing] = found
        return slots

    def outside(self, rows: np.ndarray, taken: np.ndarray) -> np.ndarray:
        """Which of rows are not among taken (both live rows): three array operations over a
        scratch mask rather than the sorting np.isin does."""
        top = max(int(rows.max(initial=-1)), int(taken.max(initial=-1))) + 1
        if top > len(self._marks):
            self._marks = np.zeros(max(2 * len(self._marks), top), dtype=bool)
        self._marks[taken] = True
        found: np.ndarray = ~self._marks[rows]
        self._marks[taken] = False
        return found
