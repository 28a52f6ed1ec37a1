"""What sharing per-client limits costs, and what the co-read snapshot saves at start-up.

1. Per event, in process: the rate limit (a token bucket) and the reader cap plus counting, in
   memory (limits.RateLimiter, readers.ReaderGate + popularity.Popularity) against Redis
   (redis_limits.RedisRateLimiter, redis_state.RedisPopularity with the cap in the counting
   script). Batches of 50 events, one take per batch, as POST /v1/events does.
2. Start-up of the embedded default with N stored events (default 2M): from the snapshot
   (popularity, reader gate and co-read table) against a full replay of the log.

    .venv/bin/python scripts/bench_shared_limits.py                 # writes BENCHMARKS.md
    .venv/bin/python scripts/bench_shared_limits.py --events 200000 --no-write

Needs Redis on 127.0.0.1 (scripts/start_services.sh); uses a key prefix of its own, removed after.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_report import cpu_description, write_section  # noqa: E402

from recommender.articles import Article  # noqa: E402
from recommender.config import CoReadConfig, PopularityConfig, Settings  # noqa: E402
from recommender.coreads import CoReads  # noqa: E402
from recommender.events import Event  # noqa: E402
from recommender.limits import EventLimiter, RateLimiter  # noqa: E402
from recommender.popularity import Popularity  # noqa: E402
from recommender.readers import ReaderGate, reader_session  # noqa: E402
from recommender.redis_coreads import RedisCoReads  # noqa: E402
from recommender.redis_limits import RedisRateLimiter  # noqa: E402
from recommender.redis_state import RedisPopularity  # noqa: E402
from recommender.redis_support import connect  # noqa: E402
from recommender.service import RecommenderService  # noqa: E402
from recommender.store import SqliteStore  # noqa: E402

MARK = "bench_shared_limits"
REDIS_URL = "redis://127.0.0.1:6379/0"
BATCH = 50
CAP = 5


def public_events(count: int, articles: int, clients: int, seed: int = 1) -> list[Event]:
    """Public events: a client's key in the session id, Zipf-ish articles, fresh sessions."""
    rng, now = random.Random(seed), time.time()
    keys = [f"{c:016x}" for c in range(clients)]
    return [
        Event(
            now + i * 0.001,
            "click",
            f"a{min(int(rng.paretovariate(1.2)), articles) - 1}",
            reader_session(keys[i % clients], f"s{rng.randrange(1_000_000)}"),
        )
        for i in range(count)
    ]


def per_event_us(work: Callable[[list[Event]], object], events: list[Event]) -> float:
    started = time.perf_counter()
    for start in range(0, len(events), BATCH):
        work(events[start : start + BATCH])
    return (time.perf_counter() - started) / len(events) * 1e6


def limits_and_caps(count: int, prefix: str) -> list[tuple[str, float]]:
    events, config = public_events(count, 5_000, 200), PopularityConfig()
    client = connect(REDIS_URL)
    limiters: dict[str, EventLimiter] = {
        "memory": RateLimiter(1e9, 1e6),
        "redis": RedisRateLimiter(client, prefix, 1e9, 1e6),
    }
    memory_pop, gate = Popularity(config), ReaderGate(config.session_dedup_minutes * 60, CAP)
    redis_pop = RedisPopularity(client, config, prefix, readers_per_client=CAP)
    # the same script without the cap: what the cap itself adds in Redis
    uncapped = RedisPopularity(client, config, prefix + "-uncapped")

    def take(limiter: EventLimiter) -> Callable[[list[Event]], object]:
        return lambda batch: limiter.take(str(batch[0].session_id)[2:18], len(batch))

    return [
        ("rate limit, in memory", per_event_us(take(limiters["memory"]), events)),
        (
            "rate limit, Redis (one script call per batch)",
            per_event_us(take(limiters["redis"]), events),
        ),
        (
            "reader cap + counting, in memory",
            per_event_us(lambda b: memory_pop.record_many(e for e in b if gate.admit(e)), events),
        ),
        (
            "reader cap + counting, Redis (one script call)",
            per_event_us(redis_pop.record_many, events),
        ),
        (
            "counting only, Redis (no cap, for reference)",
            per_event_us(uncapped.record_many, events),
        ),
    ]


def co_read_events(count: int, articles: int) -> list[Event]:
    """Sessions reading 1-6 stories each, as the widget reports views."""
    rng, now, session = random.Random(2), time.time() - count * 0.01, 0
    out: list[Event] = []
    while len(out) < count:
        session += 1
        for _ in range(rng.randint(1, 6)):
            out.append(
                Event(now + len(out) * 0.01, "view", f"a{rng.randrange(articles)}", f"r{session}")
            )
    return out[:count]


def co_read_costs(count: int, prefix: str) -> list[tuple[str, float]]:
    """Per view: counting alone against counting with the co-reads in the same transaction (one
    round trip either way), on sessions reading 1-6 stories; the in-memory table for scale."""
    events, config, client = co_read_events(count, 5_000), PopularityConfig(), connect(REDIS_URL)
    alone = RedisPopularity(client, config, prefix + "-alone")
    coreads = RedisCoReads(client, CoReadConfig(), prefix + "-co")
    riding = RedisPopularity(client, config, prefix + "-co", riders=[coreads])
    table = CoReads(CoReadConfig())
    return [
        ("co-reads, in memory", per_event_us(table.record_many, events)),
        ("counting only, Redis", per_event_us(alone.record_many, events)),
        ("counting + co-reads, Redis (one transaction)", per_event_us(riding.record_many, events)),
    ]


def restart(count: int, folder: Path) -> tuple[float, float]:
    """(seconds to ready from the snapshot, seconds with a full replay) with `count` events."""
    settings = Settings(data_dir=folder / "var", models_dir=folder / "models", model_name="fake")
    svc = RecommenderService(settings)
    svc.start()
    articles = 5_000
    svc.upsert(
        [Article(id=f"a{i}", title=f"story {i}", text=f"story {i} text") for i in range(articles)]
    )
    store = SqliteStore(settings.db_path)
    events = co_read_events(count, articles)
    for start in range(0, len(events), 20_000):
        store.add_events(events[start : start + 20_000])
    store.close()
    svc._intake.replay()  # as a long-running server would have: everything counted, then saved
    svc.close()  # saves the snapshot, as a server does at shutdown

    def ready() -> float:
        started = time.perf_counter()
        again = RecommenderService(settings)
        again.start()
        seconds = time.perf_counter() - started
        again.close()
        return seconds

    from_snapshot = ready()
    (settings.data_dir / "popularity.snapshot").unlink()
    return from_snapshot, ready()


def render(
    rows: list[tuple[str, float]],
    co_rows: list[tuple[str, float]],
    events: int,
    ready: tuple[float, float] | None,
) -> str:
    base = rows[0][1], rows[2][1]
    lines = [
        "## Shared per-client limits and the co-read snapshot (`scripts/bench_shared_limits.py`)",
        "",
        f"Machine: {cpu_description()}. Batches of {BATCH} public events from 200 clients over",
        f"5,000 articles; reader cap {CAP}. Redis on the same 2 cores (loopback).",
        "",
        "| per event | µs | × in memory |",
        "|---|---:|---:|",
    ]
    for n, (name, us) in enumerate(rows):
        lines.append(f"| {name} | {us:.2f} | {us / base[min(n // 2, 1)]:.1f} |")
    lines += [
        "",
        "Co-reads per view (sessions reading 1-6 stories of 5,000; load average "
        f"{os.getloadavg()[0]:.1f}):",
        "",
        "| per view | µs | × counting only |",
        "|---|---:|---:|",
    ]
    lines += [f"| {name} | {us:.2f} | {us / co_rows[1][1]:.1f} |" for name, us in co_rows]
    if ready is None:
        return "\n".join(lines)
    lines += [
        "",
        f"Start-up of the embedded default with {events:,} stored events (5,000 articles,",
        "sessions reading 1-6 stories): from the snapshot (popularity, reader gate and co-read",
        f"table) **{ready[0]:.2f} s**; full replay of the log **{ready[1]:.2f} s**.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit-events", type=int, default=50_000)
    parser.add_argument("--events", type=int, default=2_000_000, help="stored, for the restart")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--no-restart", action="store_true", help="per-event costs only")
    args = parser.parse_args()
    prefix = f"bench-limits-{uuid.uuid4().hex[:8]}"
    try:
        rows = limits_and_caps(args.limit_events, prefix)
        co_rows = co_read_costs(args.limit_events, prefix)
    finally:
        client = connect(REDIS_URL)
        for key in client.scan_iter(match=f"{{{prefix}*", count=1000):
            client.delete(key)
    ready = None
    if not args.no_restart:
        with tempfile.TemporaryDirectory() as tmp:
            ready = restart(args.events, Path(tmp))
    body = render(rows, co_rows, args.events, ready)
    print(body)
    if not args.no_write:
        write_section(ROOT / "BENCHMARKS.md", MARK, body)


if __name__ == "__main__":
    main()
