"""The name table's key grid reads what the flat store holds: the OR of a few hundred rows' key
bits equals each row's keys OR-ed one by one, for rows of every length (chained past the grid's
width), whether built by appends or by a compaction's rebuild, and the overlap read through it
equals the per-candidate loop through puts, removals and compactions."""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce
from operator import or_

import numpy as np
import pytest

from recommender.lexical.forward import Forward
from recommender.lexical.key_grid import WIDTH, KeyGrid
from recommender.lexical.name_table import NameTable
from recommender.lexical.names import Names, name_overlap, ranked_keys


def random_rows(rng: np.random.Generator, count: int, keys: int) -> list[np.ndarray]:
    # around each line's end: a line holds WIDTH keys, or WIDTH - 1 and the link to the next
    ends = [WIDTH - 1, WIDTH, WIDTH + 1, 2 * WIDTH - 2, 2 * WIDTH - 1, 2 * WIDTH, 3 * WIDTH - 2]
    lengths = rng.choice([0, 1, 3, *ends, 3 * WIDTH + 5], count)
    return [rng.integers(0, keys, int(n)).astype(np.int32) for n in lengths]


@pytest.mark.parametrize("seed", range(4))
def test_grid_bits_equal_the_flat_store(seed: int) -> None:
    rng = np.random.default_rng(seed)
    forward, appended = Forward(), KeyGrid()
    for keys in random_rows(rng, 400, 300):
        assert appended.append(keys) == forward.append(keys, np.zeros(len(keys), np.uint16))
    built = KeyGrid.of(forward)
    assert built.rows == appended.rows == forward.rows and built.chunks == appended.chunks > 0
    for _ in range(30):
        met = rng.choice(320, size=int(rng.integers(1, 40)), replace=False)  # some in no row
        flags = dict(zip(met.tolist(), rng.integers(1, 1 << 8, len(met)).tolist(), strict=True))
        rows = rng.integers(0, forward.rows, int(rng.integers(0, 250)))
        # each row's keys OR-ed one row at a time: the plain rule the grid's gathers must keep
        expected = [
            reduce(or_, [flags.get(k, 0) for k in forward.row(r)[0].tolist()], 0)
            for r in rows.tolist()
        ]
        for grid in (appended, built):
            found = grid.bits_of(rows, flags)
            assert found.dtype == np.uint16 and found.tolist() == expected
    assert KeyGrid.of(Forward()).bits_of(np.zeros(0, np.int64), {3: 1}).size == 0


def many_names(rng: np.random.Generator) -> Names:
    """Up to 2.5 grid widths of keys, sharing roots often (few letters)."""
    keys = ["".join(rng.choice(list("abc"), size=int(rng.integers(2, 7)))) for _ in range(50)]
    cut = int(rng.integers(0, 2 * WIDTH))
    probe = Names.of(keys[:cut], keys[cut : cut + int(rng.integers(0, WIDTH))])
    return Names.of(probe.names, probe.plain, rng.uniform(1.0, 3.0, len(probe.keys)).tolist())


@pytest.mark.parametrize("seed", range(3))
def test_overlap_through_the_grid_equals_the_loop_through_compactions(seed: int) -> None:
    rng = np.random.default_rng(seed)
    names = {f"a{i}": many_names(rng) for i in range(200)}
    table = NameTable.of(names)
    rarity: dict[str, float] = {}

    def idf(keys: Sequence[str]) -> list[float]:
        return [rarity.setdefault(k, float(rng.uniform(0.5, 6.0))) for k in keys]

    compactions = 0
    for step in range(6):
        for i in rng.choice(200, size=120, replace=False).tolist():
            if i % 3:
                names[f"a{i}"] = many_names(rng)
                table.put_many([(f"a{i}", names[f"a{i}"])])
            else:
                names.pop(f"a{i}", None)
                table.remove([f"a{i}"])
        if step % 2:
            table.compact()
        compactions = table.compactions
        for query_id in [f"a{i}" for i in range(0, 200, 11)]:
            candidates = [f"a{i}" for i in rng.choice(210, size=120).tolist()]
            query = names.get(query_id)
            expected = name_overlap(query, [names.get(c) for c in candidates], idf)
            got = table.overlap(ranked_keys(query, idf), candidates)
            assert got.tolist() == expected
    assert compactions >= 3
