"""Retention: raw events past the window become per-article hourly aggregates, batch by batch in
one transaction each, on every store backend (SQLite, the real PostgreSQL, in memory); a restart
without a snapshot counts the aggregates and the raw window to the popularity a full replay gave.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from recommender.cli import app
from recommender.events import HOUR, Event, EventAggregate
from recommender.readers import reader_session
from recommender.service import RecommenderService
from recommender.service.compaction import DAY, HourlyAggregator, compact_events
from recommender.store import SqliteStore
from tests.factories import NOW, make_settings, small_corpus
from tests.servers import Opener

T = 1_800_000_000.0  # on an hour boundary
IDS = [a.id for a in small_corpus()]


def counting(events: list[Event]) -> list[EventAggregate]:
    """Every event counted: the store's part only (HourlyAggregator is tested on its own)."""
    totals: dict[tuple[str, int, str], int] = {}
    for e in events:
        key = (e.article_id, int(e.ts // HOUR), e.type)
        totals[key] = totals.get(key, 0) + 1
    return [EventAggregate(*key, n, n) for key, n in totals.items()]


def test_old_events_move_into_hourly_aggregates_batch_by_batch(open_backend: Opener) -> None:
    store = open_backend()
    old = [Event(T + i * 600, "click", f"a{i % 2}", f"s{i}") for i in range(12)]  # 2 hours
    store.add_events([*old, Event(T + 10 * HOUR, "view", "a0", "s", event_id="new")])
    assert store.compact_events(T + 2 * HOUR, counting, limit=5) == 5
    assert store.compact_events(T + 2 * HOUR, counting, limit=5) == 5
    assert store.compact_events(T + 2 * HOUR, counting, limit=5) == 2
    assert store.compact_events(T + 2 * HOUR, counting, limit=5) == 0  # idempotent
    reopened = open_backend()
    hour = int(T // HOUR)
    found = {(a.article_id, a.hour): a.events for a in reopened.iter_aggregates()}
    assert found == {("a0", hour): 3, ("a1", hour): 3, ("a0", hour + 1): 3, ("a1", hour + 1): 3}
    assert [e.type for e in reopened.iter_events()] == ["view"]
    assert reopened.count_events() == 1
    # the newest compacted: the 12th event written, 10 minutes before the second hour ends
    assert reopened.compacted_through() == (12, T + 11 * 600)
    # the event id in the raw window still turns a retry away
    assert reopened.seen_event_ids(["new"]) == {"new"}
    reopened.close()


def test_a_failed_batch_moves_nothing(open_backend: Opener) -> None:
    store = open_backend()
    store.add_events([Event(T + i, "click", "a", f"s{i}") for i in range(4)])

    def crash(events: list[Event]) -> list[EventAggregate]:
        raise RuntimeError("killed mid-batch")

    with pytest.raises(RuntimeError):
        store.compact_events(T + HOUR, crash)
    assert store.count_events() == 4 and list(store.iter_aggregates()) == []
    assert store.compacted_through() == (0, 0.0)
    store.close()


def test_events_not_yet_counted_by_the_shared_popularity_stay(open_backend: Opener) -> None:
    store = open_backend()
    store.add_events([Event(T, "click", "a", "s1")], counted=False)
    store.add_events([Event(T + 1, "click", "b", "s2")])
    assert store.compact_events(T + HOUR, counting) == 1
    assert [e.article_id for e in store.iter_events()] == ["a"]
    store.close()


def test_the_aggregator_counts_as_the_live_intake_does() -> None:
    settings = make_settings(Path("/nonexistent"))
    aggregate = HourlyAggregator(settings)
    refresh = [Event(T + i * 60, "click", "a", "same") for i in range(5)]  # one reader
    flood = [Event(T + i, "click", "b", reader_session("c" * 16, f"f{i}")) for i in range(50)]
    rows = {(a.article_id, a.type): a for a in aggregate([*refresh, *flood])}
    assert (rows["a", "click"].events, rows["a", "click"].counted) == (5, 1)
    assert rows["b", "click"].events == 50
    assert rows["b", "click"].counted == settings.max_readers_per_client
    # the state carries over to the next batch of the run: the same reader, minutes later
    (later,) = aggregate([Event(T + 600, "click", "a", "same")])
    assert later.counted == 0


def history(days: int) -> list[Event]:
    """Readers over `days` days: refreshes within the session window, returns hours later, and
    one client's fabricated sessions over its reader cap."""
    now = NOW.timestamp()
    events = []
    for day in range(days):
        for i, article_id in enumerate(IDS):
            for reader in range((day + i) % 5 + 1):
                ts = now - (days - day) * DAY + reader * 977.0 + i * 61.0
                session = f"d{day}-r{reader}"
                events.append(Event(ts, "click", article_id, session))
                events.append(Event(ts + 120, "click", article_id, session))  # a refresh
                events.append(Event(ts + 4 * HOUR, "view", article_id, session))  # a return
        fake = [reader_session("f" * 16, f"fake{day}-{n}") for n in range(20)]
        events += [Event(now - (days - day) * DAY + n, "click", IDS[0], s) for n, s in
                   enumerate(fake)]  # fmt: skip
    return sorted(events, key=lambda e: e.ts)


def popularity_of(svc: RecommenderService) -> dict[str, np.ndarray]:
    now = NOW.timestamp()
    return {w: svc._popularity.scores(IDS, now, w) for w in ("decayed", "trending", "alltime")}


def started(settings: object) -> RecommenderService:
    svc = RecommenderService(settings)  # type: ignore[arg-type]
    svc.start()
    return svc


def test_popularity_after_compaction_equals_popularity_before(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        popularity_snapshot_seconds=0,  # every start replays: the aggregates are what it reads
        compaction_interval_seconds=0,
        compaction_batch_events=97,  # many batches: the de-duplication crosses them
        half_life_hours=72,
        trending_long_half_life_hours=24 * 14,
    )
    svc = started(settings)
    svc.upsert(small_corpus())
    svc._store.add_events(history(45))
    svc.close()
    before = popularity_of(full := started(settings))
    full.close()

    store = SqliteStore(settings.db_path)
    # the cutoff in the quiet hours between two days: a refresh on the far side of a cutoff
    # inside the session window would count once more (the compaction's one approximation)
    result = compact_events(store, settings, now=NOW.timestamp() - 12 * HOUR)
    raw_left = store.count_events()
    store.close()
    assert result.moved > 0 and result.batches > 1 and raw_left > 0

    after = popularity_of(compacted := started(settings))
    compacted.close()
    # whole counts, summed in another order: equal up to float rounding (one event more is 1.0)
    np.testing.assert_allclose(after["alltime"], before["alltime"], rtol=1e-12)
    # an aggregate counts at the middle of its hour: off by at most half an hour of decay
    drift = math.pow(2, 0.5 / 72) - 1
    np.testing.assert_allclose(after["decayed"], before["decayed"], rtol=drift)
    assert not np.allclose(before["decayed"], 0)


def test_compact_events_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECOMMENDER_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("RECOMMENDER_COMPACTION_BATCH_EVENTS", "2")
    settings = make_settings(tmp_path)
    store = SqliteStore(settings.db_path)
    now = NOW.timestamp()
    store.add_events([Event(now - 40 * DAY + i, "click", "a", f"s{i}") for i in range(5)])
    store.add_events([Event(now - 60, "click", "a", "fresh")])
    store.close()
    result = CliRunner().invoke(app, ["compact-events", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["compacted"], report["batches"], report["events_left"]) == (5, 3, 1)
    assert "compacted 4 events" in result.stderr  # progress after each batch
    again = CliRunner().invoke(app, ["compact-events", "--json"])
    assert again.exit_code == 0 and json.loads(again.stdout)["compacted"] == 0


def test_a_snapshot_older_than_the_compaction_is_not_used(tmp_path: Path) -> None:
    """Events imported after the snapshot and compacted before the restart: the snapshot lacks
    them and the raw log no longer has them, so start-up counts the aggregates instead."""
    settings = make_settings(tmp_path, compaction_interval_seconds=0)
    events = history(40)
    svc = started(settings)
    svc.upsert(small_corpus())
    svc._store.add_events(events[::2])
    svc.close()
    svc = started(settings)  # replays the first half, and snapshots it at close
    svc.close()
    assert (tmp_path / "var" / "popularity.snapshot").exists()
    store = SqliteStore(settings.db_path)
    store.add_events(events[1::2])  # an import of the same days, while the server was down
    compact_events(store, settings, now=NOW.timestamp())
    store.close()

    restarted = started(settings)
    assert restarted._intake.snapshot_seq == 0
    compacted = popularity_of(restarted)["alltime"]
    restarted.close()
    store = SqliteStore(settings.db_path)
    counted = sum(a.counted for a in store.iter_aggregates()) + store.count_events()
    store.close()
    assert compacted.sum() > 0 and counted >= compacted.sum()
    (tmp_path / "var" / "popularity.snapshot").unlink()
    assert np.array_equal(popularity_of(again := started(settings))["alltime"], compacted)
    again.close()
