"""Index rows to catalogue slots, by array: the candidates of a Lees-ook list come from the vector
index as rows and are filtered and scored by catalogue slot, and neither lookup should cost a
dict probe per candidate on every request."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recommender.catalog import Columns
from recommender.decayed import DecayedCounters
from recommender.index import VectorIndex
from recommender.popularity import Popularity

UNRESOLVED = -1


def grown(array: np.ndarray, size: int, fill: int) -> np.ndarray:
    """array with room for at least size entries (doubling: amortised O(1) per new slot), the
    new ones set to fill."""
    out = np.full(max(2 * len(array), size), fill, dtype=array.dtype)
    out[: len(array)] = array
    return out


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

    def of(self, rows: np.ndarray) -> np.ndarray:
        """Slots of rows (int64), -1 for a row without a card (or a tombstoned one)."""
        if len(rows) == 0:
            return np.zeros(0, dtype=np.int64)
        # every row the index has, so no max() over the rows (~1 us a request)
        total = len(self.index.row_map()[0])
        if total > len(self._slots):
            self._slots = grown(self._slots, total, UNRESOLVED)
        slots: np.ndarray = self._slots[rows]
        # one step when none is unresolved (the mask only when one is)
        if np.minimum.reduce(slots) == UNRESOLVED:
            missing = slots == UNRESOLVED
            # first sight of these rows (after a start or a publish): one probe each, once
            ids = self.index.ids_at(rows[missing])
            found = self.columns.slots(ids)  # -1 (UNRESOLVED) for a row still without a card
            self._slots[rows[missing]] = found
            slots[missing] = found
        return slots


MISSING = -1  # a catalogue slot whose article the counters have never counted
UNCHECKED = -2  # not looked up yet, or to be looked up again


@dataclass(frozen=True)
class SlotLookups:
    """What scoring reads by catalogue slot rather than by id (Scoring.from_columns): the
    popularity counters' slots (None: another backend, read by id) and a scratch array."""

    counters: CounterSlots | None
    scratch: SlotScratch


def slot_lookups(popularity: object, columns: Columns) -> SlotLookups:
    """The lookups of one ranker's catalogue and popularity counters."""
    counters = (
        CounterSlots(popularity.short, columns) if isinstance(popularity, Popularity) else None
    )
    return SlotLookups(counters, SlotScratch(columns))


class CounterSlots:
    """The popularity counters' slot of each catalogue slot, resolved once per slot: the counters
    are keyed by the ids of events, other string objects than the catalogue's, so a probe per
    candidate compared strings (~20 us a request at 10k, the largest step of scoring).

    Exact under writes: a counter slot stays its article's until the counters are restored
    (`renumbered`: every slot is looked up again); an article never counted gets a slot only by
    a count, which grows len(counters): then the missing ones are looked up again."""

    def __init__(self, counters: DecayedCounters, columns: Columns) -> None:
        self.counters = counters
        self.columns = columns
        self._of = np.full(1024, UNCHECKED, dtype=np.int64)
        self._seen = (counters.renumbered, len(counters))

    def of(self, slots: np.ndarray) -> np.ndarray:
        """Counter slots of (known) catalogue slots, -1 for an article never counted."""
        seen = (self.counters.renumbered, len(self.counters))
        if seen != self._seen:
            if seen[0] != self._seen[0]:
                self._of[:] = UNCHECKED
            else:  # new articles counted: one of the missing may be among them
                self._of[self._of == MISSING] = UNCHECKED
            self._seen = seen
        total = len(self.columns.published)  # every slot, so no max() over the slots
        if total > len(self._of):
            self._of = grown(self._of, total, UNCHECKED)
        found: np.ndarray = self._of[slots]
        if len(found) and np.minimum.reduce(found) == UNCHECKED:  # the least value there can be
            unchecked = found == UNCHECKED
            resolved = self.counters.slots(self.columns.ids_at(slots[unchecked]))
            self._of[slots[unchecked]] = resolved
            found[unchecked] = resolved
        return found


class SlotScratch:
    """Values spread by catalogue slot and read back for other slots: co-read partners (a few
    dozen ids) against the candidates, without the dict of the ~150 candidate ids the lookup
    by id built (~6 us a request at 10k). All zero between calls."""

    def __init__(self, columns: Columns) -> None:
        self.columns = columns
        self._values = np.zeros(1024)

    def spread(self, by_id: dict[str, float], slots: np.ndarray) -> np.ndarray:
        """by_id's value of the article at each of slots (0.0 for one not in it)."""
        at = self.columns.slots(by_id)  # -1 for an id without a card: no candidate
        values = np.fromiter(by_id.values(), dtype=np.float64, count=len(by_id))
        # one entry past every slot: the values of ids without a card go there, read by none
        size = len(self.columns.published) + 1
        if size > len(self._values):
            self._values = np.zeros(max(2 * len(self._values), size))
        self._values[at] = values
        found: np.ndarray = self._values[slots]
        self._values[at] = 0.0
        return found
