"""Online evaluation: the served-list log (contract over both backends), its off-path writer,
CTR with worked numbers, the A/B rule and variant assignment."""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from recommender.config import RankingParams, VariantSpec
from recommender.events import Event, ServedList
from recommender.online.abtest import DecisionRule, decide, two_proportion_p_value
from recommender.online.ctr import ListOutcome, by_block, ctr_stats, join
from recommender.online.writer import DAY, ServedListWriter
from recommender.ranking.variants import RankingVariant, assign, variant_of
from recommender.ranking.weights import Weights
from recommender.store import MemoryServedLog, ServedLog, SqliteServedLog
from recommender.store.postgres import PostgresServedLog, PostgresStore
from recommender.store.served import served_row
from tests.servers import postgres_schema


@pytest.fixture(params=["sqlite", "postgres", "memory"])
def served_log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServedLog]:
    """The same contract over every backend; PostgreSQL in a schema of this test's own."""
    if request.param == "postgres":
        with postgres_schema() as url:
            PostgresStore(url, pool_size=1).close()  # its migrations make the table
            log: ServedLog = PostgresServedLog(url)
            yield log
            log.close()
        return
    log = (
        SqliteServedLog(tmp_path / "served.db") if request.param == "sqlite" else MemoryServedLog()
    )
    yield log
    log.close()


def served(
    rid: str, ts: float, kind: str = "related", variant: str = "A", n: int = 4
) -> ServedList:
    return ServedList(rid, ts, kind, variant, "ctx", "Sport", tuple(f"a{i}" for i in range(n)))


# the served-list log: one contract, every backend ------------------------------------------------


def test_served_log_round_trip_keeps_order_and_fields(served_log: ServedLog) -> None:
    rid = "0123456789abcdef0123456789abcdef"
    lists = [served(rid, 10.0), served("not-a-uuid/id", 5.0, "popular", "B", 6)]
    served_log.add_served(lists)
    back = list(served_log.iter_served())
    assert back == sorted(lists, key=lambda s: s.ts)
    assert served_log.count_served() == 2


def test_served_log_is_idempotent_per_recommendation_id(served_log: ServedLog) -> None:
    first = served("r1", 1.0)
    served_log.add_served([first])
    served_log.add_served([served("r1", 2.0, variant="B")])  # a retry of the same list
    assert list(served_log.iter_served()) == [first]


def test_served_log_since_and_prune(served_log: ServedLog) -> None:
    served_log.add_served([served(f"r{i}", float(i)) for i in range(10)])
    assert [s.recommendation_id for s in served_log.iter_served(7.0)] == ["r7", "r8", "r9"]
    assert served_log.prune_served(5.0) == 5
    assert served_log.count_served() == 5
    assert min(s.ts for s in served_log.iter_served()) == 5.0


def test_sqlite_served_log_survives_reopening(tmp_path: Path) -> None:
    log = SqliteServedLog(tmp_path / "served.db")
    log.add_served([served("r1", 1.0)])
    log.close()
    again = SqliteServedLog(tmp_path / "served.db")
    assert [s.recommendation_id for s in again.iter_served()] == ["r1"]
    again.close()


# the layout before: the recommendation id as the key of a WITHOUT ROWID table
KEYED_SCHEMA = """
CREATE TABLE served_lists (rid BLOB PRIMARY KEY, ts REAL NOT NULL, kind TEXT NOT NULL,
    variant TEXT NOT NULL, context_id TEXT, section TEXT, items TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX served_lists_ts ON served_lists(ts);
"""


def test_sqlite_served_log_moves_a_keyed_file_to_the_appending_layout(tmp_path: Path) -> None:
    path = tmp_path / "served.db"
    lists = [served("0123456789abcdef0123456789abcdef", 3.0), served("r1", 1.0), served("r2", 2.0)]
    with sqlite3.connect(path) as old:
        old.executescript(KEYED_SCHEMA)
        old.executemany("INSERT INTO served_lists VALUES (?,?,?,?,?,?,?)", map(served_row, lists))
    old.close()
    log = SqliteServedLog(path)
    assert list(log.iter_served()) == sorted(lists, key=lambda s: s.ts)
    log.add_served([served("r2", 4.0, variant="B"), served("r4", 4.0)])  # r2: a retry
    assert [s.recommendation_id for s in log.iter_served(2.0)] == [
        "r2",
        lists[0].recommendation_id,
        "r4",
    ]
    assert next(log.iter_served(2.0)).variant == "A" and log.count_served() == 4
    log.close()
    with sqlite3.connect(path) as again:
        tables = again.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table'"
        ).fetchall()
    again.close()
    assert [name for name, _ in tables] == ["served_lists"]
    assert "WITHOUT ROWID" not in tables[0][1]
    reopened = SqliteServedLog(path)  # nothing left to move
    assert reopened.count_served() == 4 and len(list(reopened.iter_served())) == 4
    reopened.close()


# the writer ------------------------------------------------------------------------------------


def test_writer_batches_off_the_request_path() -> None:
    log = MemoryServedLog()
    writer = ServedListWriter(log, flush_seconds=60)
    for i in range(5):
        writer.record(served(f"r{i}", float(i)))
    assert log.count_served() == 0  # nothing written on the request path
    assert writer.flush(now=100.0) == 5
    assert log.count_served() == 5 and writer.written == 5


def test_writer_drops_oldest_when_full_and_counts_it() -> None:
    log = MemoryServedLog()
    writer = ServedListWriter(log, max_pending=100)
    for i in range(130):
        writer.record(served(f"r{i}", float(i)))
    writer.flush(now=200.0)
    kept = sorted(int(s.recommendation_id[1:]) for s in log.iter_served())
    assert writer.dropped == 30 and kept == list(range(30, 130))


def test_writer_thread_flushes_and_stop_writes_the_rest() -> None:
    log = MemoryServedLog()
    writer = ServedListWriter(log, flush_seconds=0.05)
    writer.start()
    now = time.time()  # the writer prunes past the retention window by the clock
    writer.record(served("r1", now))
    for _ in range(100):
        if log.count_served():
            break
        time.sleep(0.02)
    assert log.count_served() == 1
    writer.record(served("r2", now))
    writer.stop()
    assert log.count_served() == 2


def test_writer_prunes_past_retention() -> None:
    log = MemoryServedLog()
    writer = ServedListWriter(log, retention_days=1.0)
    now = 10 * DAY
    writer.record(served("old", now - 2 * DAY))
    writer.record(served("new", now - 0.5 * DAY))
    writer.flush(now=now)
    assert [s.recommendation_id for s in log.iter_served()] == ["new"]


# CTR with worked numbers -----------------------------------------------------------------------


def hand_log() -> tuple[list[ServedList], list[Event]]:
    """Four Lees-ook lists of 4 and two Populair lists of 6:
    r1 (A) seen by s1, who clicks at 0 and 2, and 0 again (a double click);
    r2 (A) seen by s2 without a click, and by s4 (a cached answer: same id) who clicks at 3;
    r3 (B) no impression arrived but s3 clicked at 1; r4 (B) served, never seen;
    p1 seen by s5, click at 5, and by two readers without a session, one of whom clicks at 2;
    p2 seen by s6, a click at position 9 (no such item: ignored).
    An impression naming no served list is ignored too."""
    lists = [
        served("r1", 1.0, variant="A"),
        served("r2", 2.0, variant="A"),
        served("r3", DAY + 3.0, variant="B"),
        served("r4", DAY + 4.0, variant="B"),
        served("p1", 5.0, "popular", "A", 6),
        served("p2", 6.0, "popular", "A", 6),
    ]
    events = [
        Event(10, "impression", "ctx", "s1", "r1"),
        Event(11, "click", "a0", "s1", "r1", 0),
        Event(12, "click", "a2", "s1", "r1", 2),
        Event(13, "click", "a0", "s1", "r1", 0),
        Event(14, "impression", "ctx", "s2", "r2"),
        Event(14, "impression", "ctx", "s4", "r2"),
        Event(14, "click", "a3", "s4", "r2", 3),
        Event(15, "click", "a1", "s3", "r3", 1),
        Event(15, "impression", "ctx", None, "p1"),
        Event(15, "impression", "ctx", None, "p1"),
        Event(15, "click", "a2", None, "p1", 2),
        Event(16, "impression", "ctx", "s5", "p1"),
        Event(17, "click", "a5", "s5", "p1", 5),
        Event(18, "impression", "ctx", "s6", "p2"),
        Event(19, "click", "x", "s6", "p2", 9),
        Event(20, "impression", "ctx", "s7", "unknown"),
        Event(21, "view", "a0", "s1"),
    ]
    return lists, events


def test_ctr_matches_a_hand_count() -> None:
    lists, events = hand_log()
    stats = ctr_stats(join(lists, events), now=0.0)
    related = stats["blocks"]["related"]
    # served 4; views r1/s1, r2/s2, r2/s4, r3/s3 = 4; with a click: s1, s4, s3 = 3;
    # clicks (s1,0) (s1,2) (s4,3) (s3,1) = 4
    total = related["total"]
    assert (total["served"], total["seen"], total["clicked"], total["clicks"]) == (4, 4, 3, 4)
    assert total["ctr"] == 0.75
    # Wilson 95% for 3 of 4: centre (0.75 + z²/8) / (1 + z²/4) = 0.6275, half-width 0.3269
    assert total["ctr_low"] == pytest.approx(0.3006, abs=1e-3)
    assert total["ctr_high"] == pytest.approx(0.9544, abs=1e-3)
    positions = {r["position"]: (r["seen"], r["clicks"]) for r in related["by_position"]}
    assert positions == {0: (4, 1), 1: (4, 1), 2: (4, 1), 3: (4, 1)}
    assert related["by_variant"]["A"]["ctr"] == round(2 / 3, 6)  # s1, s4 of s1, s2, s4
    assert related["by_variant"]["B"]["ctr"] == 1.0  # s3 of s3 (r4 unseen)
    assert related["by_variant"]["B"]["served"] == 2
    assert set(related["by_day"]) == {"1970-01-01", "1970-01-02"}
    popular = stats["blocks"]["popular"]
    # p1: s5 (click 5) and two anonymous views, the first of which takes the click at 2; p2: s6
    assert (popular["total"]["seen"], popular["total"]["clicked"]) == (4, 2)
    assert popular["by_position"][5] == {"position": 5, "seen": 4, "clicks": 1, "ctr": 0.25}
    assert popular["by_position"][2]["clicks"] == 1
    assert popular["by_section"]["Sport"]["served"] == 2


# the A/B rule -----------------------------------------------------------------------------------


def test_sample_size_and_p_value_worked_numbers() -> None:
    # 5% → 6% at α 0.05 two-sided, power 0.8: ((1.96·√(2·.055·.945) + 0.8416·√(.05·.95 +
    # .06·.94)) / .01)² = 8157.7 → 8158 per arm
    assert DecisionRule(0.05, 0.8, 0.05, 0.2).sample_size() == 8158
    # two comparisons split alpha: a larger sample per arm
    assert DecisionRule(0.05, 0.8, 0.05, 0.2).sample_size(2) > 8158
    # 50/1000 vs 80/1000: z = 0.03 / √(.065·.935·.002) = 2.721 → p = 0.0065
    assert two_proportion_p_value(50, 1000, 80, 1000) == pytest.approx(0.0065, abs=2e-4)
    assert two_proportion_p_value(0, 0, 1, 10) == 1.0


def outcomes_for(rates: dict[str, float], n: int, seed: int) -> list[ListOutcome]:
    """n seen lists per variant, interleaved in serving order, clicked with the given rates."""
    import random

    rng = random.Random(seed)
    out = []
    for i in range(n):
        for variant, rate in rates.items():
            view = {0} if rng.random() < rate else set()
            out.append(ListOutcome(served(f"{variant}{i}", float(i), variant=variant), [view]))
    return out


RULE = DecisionRule(alpha=0.05, power=0.9, baseline_ctr=0.3, min_relative_lift=0.2)


def test_decision_waits_for_the_sample_and_then_never_changes() -> None:
    n = RULE.sample_size()
    early = decide(outcomes_for({"A": 0.3, "B": 0.6}, n // 2, 1), ["A", "B"], RULE)
    assert early["comparisons"]["B"]["status"] == "collecting" and early["winner"] is None
    full = outcomes_for({"A": 0.3, "B": 0.36}, 3 * n, 2)
    at_horizon = decide(full[: 2 * n], ["A", "B"], RULE)
    later = decide(full, ["A", "B"], RULE)
    # the test reads the first n seen lists per arm: more data cannot change the verdict
    assert at_horizon["comparisons"] == later["comparisons"]
    assert at_horizon["winner"] == later["winner"]
    assert later["rule"]["sample_size_per_arm"] == n


def test_a_true_lift_wins_and_equal_variants_rarely_do() -> None:
    n = RULE.sample_size()
    wins = [
        decide(outcomes_for({"A": 0.3, "B": 0.36}, n, seed), ["A", "B"], RULE)["winner"]
        for seed in range(20)
    ]
    assert wins.count("B") >= 15  # power 0.9: expect 18 of 20
    false = [
        decide(outcomes_for({"A": 0.3, "B": 0.3}, n, 100 + seed), ["A", "B"], RULE)["winner"]
        for seed in range(20)
    ]
    # α 0.05 over 20 runs: P(4 or more false winners) = 1.6%
    assert sum(w is not None for w in false) <= 3


# variants --------------------------------------------------------------------------------------


def variants() -> list[RankingVariant]:
    weights = Weights({"similarity": 1.0, "popularity": 0.2})
    params = RankingParams()
    return [
        variant_of(VariantSpec(name="A", share=1), weights, params),
        variant_of(
            VariantSpec(name="B", share=3, signals_off=["popularity"], mmr_lambda=0.5),
            weights,
            params,
        ),
    ]


def test_variant_of_applies_its_changes_only() -> None:
    a, b = variants()
    assert a.weights.values == {"similarity": 1.0, "popularity": 0.2}
    assert b.weights.values == {"similarity": 1.0, "popularity": 0.0}
    assert b.params.mmr_lambda == 0.5 and a.params.mmr_lambda == RankingParams().mmr_lambda


def test_assignment_is_sticky_follows_shares_and_reshuffles_per_experiment() -> None:
    vs = variants()
    first = [assign(vs, "exp1", f"s{i}").name for i in range(4000)]
    assert first == [assign(vs, "exp1", f"s{i}").name for i in range(4000)]
    assert math.isclose(first.count("B") / 4000, 0.75, abs_tol=0.03)
    other = [assign(vs, "exp2", f"s{i}").name for i in range(4000)]
    assert sum(a != b for a, b in zip(first, other, strict=True)) > 1000
    assert assign(vs, "exp1", "s1", requested="A").name == "A"
    # a variant of an ended experiment: assigned afresh, as without one
    assert assign(vs, "exp1", "s1", requested="C") == assign(vs, "exp1", "s1")


def test_by_block_keeps_blocks_apart() -> None:
    lists, events = hand_log()
    assert set(by_block(join(lists, events))) == {"related", "popular"}


# the service's side ---------------------------------------------------------------------------


@pytest.mark.parametrize("cache_size", [1000, 0])
def test_a_list_answered_again_is_logged_once(tmp_path: Path, cache_size: int) -> None:
    """The result cache answers a list again under its recommendation id: its first row is the
    one the log keeps, so it is queued once; a list ranked anew is a row of its own."""
    from recommender.service import RecommenderService
    from tests.factories import make_settings, small_corpus

    settings = make_settings(tmp_path, result_cache_size=cache_size)
    svc = RecommenderService(settings)
    svc.start()
    try:
        svc.upsert(small_corpus())
        answers = [svc.related("cuba-1", 2) for _ in range(3)] + [svc.popular(3)]
        online = svc._online
        online.writer.flush()
        ids = {s.recommendation_id for s in online._log.iter_served()}
        assert ids == {a.recommendation_id for a in answers}
        assert online._log.count_served() == len(ids) == (2 if cache_size else 4)
        assert online.writer.repeated == (2 if cache_size else 0)
        assert online.stats(svc._store, 1.0)["served_log"]["repeated"] == online.writer.repeated
    finally:
        svc.close()
