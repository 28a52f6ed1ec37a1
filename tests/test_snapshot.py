"""Fast restarts: popularity is snapshotted (at shutdown and periodically) and a restart replays
only the events written after the snapshot, to the same counts as a full replay."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient

from recommender.api import create_app
from recommender.coreads import CoReads
from recommender.events import Event
from recommender.service import RecommenderService
from tests.factories import NOW, auth, make_settings, small_corpus

IDS = [a.id for a in small_corpus()]


def events(start: int, count: int) -> list[Event]:
    now = NOW.timestamp()
    return [
        Event(now - (count - i), "click", IDS[(start + i) % len(IDS)], f"s{start + i}")
        for i in range(count)
    ]


def scores(svc: RecommenderService) -> np.ndarray:
    now = NOW.timestamp()
    return np.concatenate(
        [svc._popularity.scores(IDS, now, window) for window in ("decayed", "trending", "alltime")]
    )


def test_a_restart_from_the_snapshot_counts_what_a_full_replay_counts(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    svc = RecommenderService(settings)
    svc.start()
    svc.upsert(small_corpus())
    svc.record_events(events(0, 300))
    svc._intake.snapshot()
    svc.record_events(events(300, 40))  # after the snapshot: a crash now loses no count
    before = scores(svc)
    svc._store.close()  # as kill -9 would: no snapshot at shutdown

    restarted = RecommenderService(settings)
    restarted.start()
    np.testing.assert_allclose(scores(restarted), before)
    assert restarted._intake.snapshot_seq == 300  # only the 40 after it were replayed
    restarted.close()

    (tmp_path / "var" / "popularity.snapshot").unlink()
    full = RecommenderService(settings)
    full.start()
    np.testing.assert_allclose(scores(full), before)
    full.close()


def test_a_snapshot_for_other_settings_or_a_broken_file_is_ignored(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    svc = RecommenderService(settings)
    svc.start()
    svc.upsert(small_corpus())
    svc.record_events(events(0, 50))
    before = scores(svc)
    svc.close()
    other = RecommenderService(make_settings(tmp_path, half_life_hours=2.0))
    other.start()  # another half-life: the snapshot does not apply, the full replay does
    assert not np.allclose(scores(other), before)
    other.close()
    (tmp_path / "var" / "popularity.snapshot").write_bytes(b"not a snapshot")
    again = RecommenderService(settings)
    again.start()
    np.testing.assert_allclose(scores(again), before)
    again.close()


def test_the_app_saves_a_snapshot_at_shutdown(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    with TestClient(create_app(settings)) as client:
        body = {"articles": [a.model_dump(mode="json") for a in small_corpus()]}
        client.post("/v1/articles", json=body, headers=auth())
        client.post("/v1/events", json={"events": [{"type": "view", "article_id": "storm-1"}]})
    assert (tmp_path / "var" / "popularity.snapshot").is_file()


def co_read(start: int, count: int) -> list[Event]:
    """Sessions that each read three stories in a row: co-reads to learn."""
    now = NOW.timestamp()
    return [
        Event(now - (count - i), "view", IDS[(start + i * 7) % len(IDS)], f"r{(start + i) // 3}")
        for i in range(count)
    ]


def table(svc: RecommenderService) -> dict[str, list[tuple[str, float]]]:
    now = NOW.timestamp()
    return {i: svc._coreads.neighbours(i, 5, now) for i in IDS}


def test_co_reads_restart_from_the_snapshot_without_replaying_the_log(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    svc = RecommenderService(settings)
    svc.start()
    svc.upsert(small_corpus())
    svc.record_events(co_read(0, 300))
    svc._intake.snapshot()
    # after the snapshot, some sessions go on reading: their earlier reads come from the file
    svc.record_events(co_read(298, 40))
    live = table(svc)
    assert any(live.values())
    svc._store.close()

    restarted = RecommenderService(settings)
    restarted.start()
    assert restarted._intake.snapshot_seq == 300
    for article_id, neighbours in live.items():
        got = table(restarted)[article_id]
        assert [b for b, _ in got] == [b for b, _ in neighbours]
        np.testing.assert_allclose([v for _, v in got], [v for _, v in neighbours])
    restarted.close()


def test_co_reads_of_unpublished_articles_are_forgotten_at_the_snapshot(tmp_path: Path) -> None:
    svc = RecommenderService(make_settings(tmp_path))
    svc.start()
    svc.upsert(small_corpus())
    gone, kept = IDS[0], IDS[1]
    reads = [Event(NOW.timestamp() + n, "view", a, f"r{n // 2}") for n, a in enumerate(IDS * 4)]
    svc.record_events(reads)
    coreads = svc._coreads
    assert isinstance(coreads, CoReads)
    assert gone in coreads.counts and gone in coreads.pairs[kept]
    svc.unpublish(gone)
    svc._intake.snapshot()
    assert gone not in coreads.counts and gone not in coreads.pairs
    assert all(gone not in partners for partners in coreads.pairs.values())
    assert all(a != gone for n in range(len(reads)) for a, _ in coreads.session_reads(f"r{n}"))
    assert kept in coreads.counts  # the live ones stay
    svc.close()
