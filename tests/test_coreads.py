"""Co-read counting: incremental equals batch, decay, de-duplication, bounded memory."""

from __future__ import annotations

import itertools
import math
import random
from collections import defaultdict

import numpy as np
import pytest

from recommender.config import CoReadConfig
from recommender.coreads import CoReads
from recommender.events import Event

NO_DECAY = CoReadConfig(half_life_hours=1e9, neighbours=1_000, shrinkage=2.0)


def random_events(n: int, seed: int, articles: int = 40, sessions: int = 30) -> list[Event]:
    rng = random.Random(seed)
    ts = 1_700_000_000.0
    out = []
    for _ in range(n):
        ts += rng.uniform(0, 600)
        kind = rng.choice(["view", "click", "impression"])
        out.append(Event(ts, kind, f"a{rng.randrange(articles)}", f"s{rng.randrange(sessions)}"))
    return out


def reference(events: list[Event], config: CoReadConfig) -> dict[tuple[str, str], float]:
    """Written independently of the class: sessions' distinct reads, every pair within the
    session window counted once, cosine with shrinkage; no decay."""
    reads: dict[str, list[tuple[str, float]]] = defaultdict(list)
    together: dict[tuple[str, str], float] = defaultdict(float)
    counts: dict[str, float] = defaultdict(float)
    for e in events:
        if e.type not in ("view", "click") or e.session_id is None:
            continue
        window = [
            (a, t) for a, t in reads[e.session_id] if t >= e.ts - config.session_gap_hours * 3600
        ]
        reads[e.session_id] = window
        if any(a == e.article_id for a, _ in window):
            continue
        counts[e.article_id] += 1
        for a, _ in window:
            together[(a, e.article_id)] += 1
            together[(e.article_id, a)] += 1
        window.append((e.article_id, e.ts))
        del window[: -config.session_items]
    return {
        (a, b): c / (math.sqrt(counts[a] * counts[b]) + config.shrinkage)
        for (a, b), c in together.items()
    }


def test_incremental_equals_batch_and_reference() -> None:
    events = random_events(2_000, seed=1)
    batch = CoReads(NO_DECAY)
    batch.record_many(events)
    incremental = CoReads(NO_DECAY)
    for start in range(0, len(events), 137):
        incremental.record_many(events[start : start + 137])
        incremental.neighbours("a1", 5)  # reads in between change nothing
    expected = reference(events, NO_DECAY)
    ids = [f"a{i}" for i in range(40)]
    for query in ids:
        want = np.array([expected.get((query, c), 0.0) for c in ids])
        want[ids.index(query)] = 0.0
        for counter in (batch, incremental):
            got = counter.similarities(query, ids)
            got[ids.index(query)] = 0.0
            assert np.allclose(got, np.minimum(want, 1.0), rtol=1e-6, atol=1e-9)
    top = batch.neighbours("a3", 3)
    assert [i for i, _ in top] == [i for i, _ in incremental.neighbours("a3", 3)]


def test_recent_co_reads_outweigh_old_ones() -> None:
    config = CoReadConfig(half_life_hours=24.0, shrinkage=0.0)
    counter = CoReads(config)
    day = 86_400.0
    t0 = 1_700_000_000.0
    for n in range(5):  # old: x read with old-partner by five sessions, ten days ago
        counter.record_many([Event(t0, "view", "x", f"o{n}"), Event(t0, "view", "old", f"o{n}")])
    for n in range(5):  # new: x read with new-partner by five sessions, now
        t = t0 + 10 * day
        counter.record_many([Event(t, "view", "x", f"n{n}"), Event(t, "view", "new", f"n{n}")])
    (first, _), (second, _) = counter.neighbours("x", 2)
    assert (first, second) == ("new", "old")


def test_refreshes_and_impressions_do_not_count() -> None:
    counter = CoReads()
    t = 1_700_000_000.0
    assert counter.record(Event(t, "view", "a", "s"))
    assert not counter.record(Event(t + 5, "view", "a", "s"))
    assert not counter.record(Event(t + 6, "impression", "b", "s"))
    assert not counter.record(Event(t + 7, "click", "b", None))
    assert counter.record(Event(t + 8, "click", "b", "s"))
    assert counter.neighbours("a", 5)[0][0] == "b"


@pytest.mark.parametrize("neighbours", [3, 8])
def test_memory_is_bounded(neighbours: int) -> None:
    config = CoReadConfig(neighbours=neighbours, session_items=6, max_sessions=50)
    counter = CoReads(config)
    counter.record_many(random_events(20_000, seed=2, articles=300, sessions=400))
    assert all(len(p) <= 2 * neighbours for p in counter.pairs.values())
    assert counter.entries() <= 2 * neighbours * len(counter.pairs)
    assert len(counter._sessions) <= 50
    held = [counter.session_reads(f"s{n}") for n in range(400)]
    assert 0 < sum(map(bool, held)) <= 50 and max(map(len, held)) <= 6
    counter.record_many(Event(1_800_000_000.0 + n, "view", f"a{n}", "long") for n in range(10))
    assert [a for a, _ in counter.session_reads("long")] == [f"a{n}" for n in range(4, 10)]
    sims = counter.similarities("a1", [f"a{i}" for i in range(300)])
    assert np.all((sims >= 0) & (sims <= 1))
    counter.forget(["a1"])
    assert counter.neighbours("a1", 3) == []


def test_pairs_are_symmetric() -> None:
    counter = CoReads(NO_DECAY)
    counter.record_many(random_events(500, seed=3))
    every = ((a, b) for a, partners in counter.pairs.items() for b in partners)
    for a, b in itertools.islice(every, 200):
        assert counter.pairs[a][b] == pytest.approx(counter.pairs[b][a])


def test_state_restores_an_equal_table_with_ids_kept_once() -> None:
    config = CoReadConfig(neighbours=4, session_items=5)
    table = CoReads(config)
    events = random_events(3_000, seed=6, articles=60, sessions=80)
    table.record_many(events[:2_000])
    clock, arrays = table.state()
    assert len(arrays["articles"]) == len(set(arrays["articles"].tolist())) <= 60
    assert len(arrays["session_keys"]) == len(table._sessions) == 80
    restored = CoReads(config)
    restored.restore(clock, arrays)
    for counter in (table, restored):  # both go on learning: they must stay equal
        counter.record_many(events[2_000:])
    assert restored.pairs == table.pairs and restored.counts == table.counts
    sessions = [f"s{n}" for n in range(80)]
    assert [restored.session_reads(s) for s in sessions] == [
        table.session_reads(s) for s in sessions
    ]


def test_forget_leaves_no_trace_in_partners_or_sessions() -> None:
    counter = CoReads(NO_DECAY)
    t = 1_700_000_000.0
    counter.record_many(Event(t + n, "view", a, "s") for n, a in enumerate(["a", "b", "c"]))
    counter.forget(["b"])
    assert "b" not in counter.pairs and "b" not in counter.pairs["a"]
    assert [a for a, _ in counter.session_reads("s")] == ["a", "c"]
    counter.record(Event(t + 9, "view", "d", "s"))  # no new pair with the forgotten one
    assert "b" not in counter.pairs and set(counter.pairs["d"]) == {"a", "c"}
