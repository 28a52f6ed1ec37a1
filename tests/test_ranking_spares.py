"""The spare entries that let the ranker read slot -1 ("no card", "never counted") without a
mask, and the neighbour lists' slice path: each equal to the plain computation, across the
growth of every array (the spare must stay past the last slot however many arrive)."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.catalog import Card, Columns
from recommender.decayed import DecayedCounters
from recommender.neighbours import NO_ROW, NeighbourLists
from recommender.ranking.slots import SlotScratch

NOW = 1_763_000_000.0


def card(n: int, published: bool = True) -> Card:
    return Card(f"a{n}", f"title {n}", None, "sport" if n % 2 else None, None, NOW, published)


def plain_passing(
    columns: Columns, slots: np.ndarray, self_id: str, section: str | None
) -> list[bool]:
    """What passing() was before the spare: -1 masked out first."""
    out = []
    for slot in slots.tolist():
        if slot < 0 or columns.ids[slot] == self_id or not columns.published[slot]:
            out.append(False)
        elif section is not None:
            out.append(int(columns.folded[slot]) == columns.folded_code(section))
        else:
            out.append(True)
    return out


@pytest.mark.parametrize("count", [1, 1023, 1024, 1025, 2047, 2048, 3000])
def test_slot_minus_one_never_passes_however_many_cards_arrive(count: int) -> None:
    columns = Columns()
    for n in range(count):
        columns.put(card(n))
    assert not columns.published[-1] and columns.ids[-1] is None  # the spare
    rng = np.random.default_rng(count)
    slots = np.concatenate([[-1, count - 1], rng.integers(-1, count, 200)]).astype(np.int64)
    for section in (None, "SPORT"):
        kept = columns.passing(slots, "a0", (), section, 3.0, NOW)
        assert kept.tolist() == plain_passing(columns, slots, "a0", section)


@pytest.mark.parametrize("count", [1, 1023, 1024, 1025, 2048, 2049])
def test_a_never_counted_slot_is_zero_after_growth_and_restore(count: int) -> None:
    counters = DecayedCounters(3600.0)
    for n in range(count):
        counters.add(f"a{n}", 1.0 + n % 3, NOW - n)
    slots = np.array([-1, 0, count - 1, -1], dtype=np.int64)
    values = counters.values_of(slots, NOW)
    assert values[0] == 0.0 and values[3] == 0.0
    assert values[1:3].tolist() == [counters.value("a0", NOW), counters.value(f"a{count - 1}", NOW)]
    restored = DecayedCounters(3600.0)
    restored.restore(*counters.state())
    assert np.array_equal(restored.values_of(slots, NOW), values)
    restored.add(f"a{count}", 1.0, NOW)  # one more after a restore: the spare stays
    assert restored.values_of(np.array([-1]), NOW).tolist() == [0.0]


@pytest.mark.parametrize("count", [5, 1023, 1024, 1025])
def test_spread_values_are_the_lookup_by_id_and_leave_the_scratch_zero(count: int) -> None:
    columns = Columns()
    for n in range(count):
        columns.put(card(n))
    scratch = SlotScratch(columns)
    rng = np.random.default_rng(count)
    by_id = {f"a{count - 1}": 0.5}  # the last slot, written before the spare is
    picked = zip(rng.integers(0, count, 30).tolist(), rng.random(30).tolist(), strict=True)
    by_id |= {f"a{n}": v for n, v in picked}
    by_id |= {"no-card": 5.0, "nor-this": 7.0}  # no slot: their values go to the spare
    slots = np.append(rng.integers(0, count, 100), count - 1).astype(np.int64)
    found = scratch.spread(by_id, slots)
    assert found.tolist() == [by_id.get(f"a{s}", 0.0) for s in slots.tolist()]
    assert not scratch._values.any()


def test_neighbour_lists_read_by_slice_or_by_gather_alike() -> None:
    rng = np.random.default_rng(3)
    lists = NeighbourLists(8, 4)
    for row in range(4):
        rows = rng.permutation(20)[: 6 + row % 3]
        lists.set_list(row, rows, np.sort(rng.random(len(rows)))[::-1].astype(np.float32), False)
    for _ in range(50):
        alive = np.append(rng.random(20) < 0.8, False)  # the last: NO_ROW's entry
        for row in range(4):
            for k in (0, 3, 6, 8):
                listed = lists.live(row, k, alive)
                entries = lists.rows[row]
                picked = np.flatnonzero(alive[entries])[:k]
                if len(picked) < k and lists.floor[row] > -np.inf:
                    assert listed is None
                    continue
                assert listed is not None
                assert listed[1].tolist() == entries[picked].tolist()
                assert listed[0].tolist() == lists.sims[row, picked].astype(np.float64).tolist()
                assert NO_ROW not in listed[1].tolist()
