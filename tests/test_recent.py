"""The fixed-size table of recent keys (recommender/recent.py) against a plain dict that follows
the same rule: at most `limit` keys; when full, those seen within `ttl` stay, at most `keep` of
the limit, the most recent first. Its arrays never grow."""

from __future__ import annotations

import random

import pytest

from recommender.recent import RecentKeys


class Reference:
    def __init__(self, limit: int, ttl: float, keep: float) -> None:
        self.limit, self.ttl, self.keep = limit, ttl, max(1, int(limit * keep))
        self.times: dict[int, float] = {}

    def see(self, key: int, ts: float) -> None:
        if key not in self.times and len(self.times) >= self.limit:
            fresh = {k: t for k, t in self.times.items() if t >= ts - self.ttl}
            newest = sorted(fresh, key=fresh.__getitem__)[-self.keep :]
            self.times = {k: fresh[k] for k in newest}
        self.times[key] = ts


@pytest.mark.parametrize("rows", [True, False])
def test_holds_what_the_rule_says_with_memory_fixed(rows: bool) -> None:
    table, reference = RecentKeys(300, ttl=40.0, keep=0.6, rows=rows), Reference(300, 40.0, 0.6)
    sizes = (len(table._keys), len(table._times), len(table._rows))
    rng = random.Random(5)
    keys: list[int] = []
    for step in range(20_000):
        ts = step * 0.01  # distinct times: "most recent" is never a tie
        old = keys and rng.random() < 0.3
        key = rng.choice(keys) if old else rng.getrandbits(64)
        keys.append(key)
        at = table.find(key)
        assert (at >= 0) == (key in reference.times)
        if at >= 0:
            table.touch(at, ts)
        else:
            table.insert(key, ts)
        reference.see(key, ts)
        if step % 997 == 0:
            assert_same(table, reference, rows)
    assert table.sweeps > 10
    assert_same(table, reference, rows)
    assert (len(table._keys), len(table._times), len(table._rows)) == sizes


def assert_same(table: RecentKeys, reference: Reference, rows: bool) -> None:
    state = table.state()
    held = dict(zip(state["keys"].tolist(), state["times"].tolist(), strict=True))
    assert held == reference.times and len(table) == len(held) <= table.limit
    for key, ts in reference.times.items():
        at = table.find(key)
        assert at >= 0 and table.time_at(at) == ts
    if rows:  # every key its own row, within the limit
        taken = state["rows"].tolist()
        assert len(set(taken)) == len(taken) and all(0 <= r < table.limit for r in taken)


def test_a_key_of_zero_is_a_key_like_any_other() -> None:
    table = RecentKeys(10, ttl=1.0)
    assert table.find(0) == -1
    row = table.insert(0, 5.0)
    assert table.row_at(table.find(0)) == row


def test_state_restores_an_equal_table_that_goes_on_equally() -> None:
    table = RecentKeys(500, ttl=100.0, keep=0.75)
    rng = random.Random(9)
    for step in range(3_000):
        key = rng.getrandbits(64)
        if table.find(key) < 0:
            table.insert(key, float(step))
    restored = RecentKeys(500, ttl=100.0, keep=0.75)
    restored.restore(table.state())
    for step in range(3_000, 4_000):  # both go on: rows handed out and sweeps must agree
        key = rng.getrandbits(64)
        assert table.insert(key, float(step)) == restored.insert(key, float(step))
    a, b = table.state(), restored.state()
    assert sorted(zip(*map(list, a.values()), strict=True)) == sorted(
        zip(*map(list, b.values()), strict=True)
    )
