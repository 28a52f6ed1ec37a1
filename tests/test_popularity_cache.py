"""The serving caches of DecayedCounters (running max, maintained top head) must give exactly
what a full scan gives, however events and reads interleave."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from recommender.popularity import DecayedCounters

T = 1_800_000_000.0


def full_scan_ranked(counters: DecayedCounters) -> list[str]:
    logs = counters._log[: len(counters._ids)]
    return [counters._ids[i] for i in np.argsort(-logs, kind="stable")]


@pytest.mark.parametrize("seed", range(40))
def test_cached_reads_match_a_full_scan(seed: int) -> None:
    rng = random.Random(seed)
    counters = DecayedCounters(None if seed % 4 == 0 else 3600.0)
    first = rng.choice([1, 3, 8, 64])
    n_ids = rng.choice([2, 10, 50, 200])
    for _ in range(rng.randint(1, 300)):
        article = f"a{int(rng.paretovariate(1.2)) % n_ids}"
        counters.add(article, rng.choice([0.5, 1.0, 2.0]), T + rng.uniform(-3e4, 3e4))
        if rng.random() < 0.2:
            got = list(counters.ranked(first))
            expected = full_scan_ranked(counters)
            assert sorted(got) == sorted(expected)
            # same values in the same order (equal values may come in either order)
            assert [counters.value(i, T) for i in got] == pytest.approx(
                [counters.value(i, T) for i in expected]
            )
            top = max(counters.value(i, T) for i in expected)
            assert math.isclose(counters.max_value(T), top)
            ids = [f"a{i}" for i in range(n_ids + 2)]
            assert counters.values(ids, T) == pytest.approx([counters.value(i, T) for i in ids])
