"""What the served-list log costs: Lees-ook latency with the log on against off (the baseline,
measured in the same run, interleaved), and the log's size on disk per million lists.

    .venv/bin/python scripts/bench_served_log.py            # 10k articles (writes BENCHMARKS.md)
    .venv/bin/python scripts/bench_served_log.py --articles 2000 --no-write

Latency is taken in-process around RecommenderService.related (ranking, assigning the variant
and queuing the served list), with the log's writer thread flushing to SQLite every second in
the background as in production. HTTP adds the same constant cost to both modes, so the ratio
here is an upper bound of what a client sees. Corpus and vectors as in bench_serving.py.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_report import cpu_description, write_section  # noqa: E402
from bench_serving import (  # noqa: E402
    DIM,
    article_id,
    build_catalog,
    build_index,
    build_popularity,
    synthetic_events,
)

from recommender.config import Settings  # noqa: E402
from recommender.embedding import FakeEmbedder  # noqa: E402
from recommender.events import ServedList  # noqa: E402
from recommender.service import RecommenderService  # noqa: E402
from recommender.store import SqliteServedLog  # noqa: E402


def latencies(svc: RecommenderService, ids: list[str], sessions: list[str]) -> list[float]:
    out = []
    for aid, session in zip(ids, sessions, strict=True):
        start = time.perf_counter()
        svc.related(aid, 4, session_id=session)
        out.append((time.perf_counter() - start) * 1000)
    return out


def overhead(n: int, rounds: int, calls: int, tmp: Path) -> dict[str, float]:
    catalog, index = build_catalog(n), build_index(n, "flat")
    popularity = build_popularity(synthetic_events(n))
    services = {}
    for mode in ("off", "on"):
        settings = Settings(
            data_dir=tmp / mode,
            models_dir=tmp / "models",
            model_name="fake:384",
            served_log=mode == "on",
        )
        services[mode] = RecommenderService.from_parts(
            settings,
            embedder=FakeEmbedder(DIM),
            catalog=catalog,
            index=index,
            popularity=popularity,
        )
    rng = np.random.default_rng(3)
    times: dict[str, list[float]] = {"off": [], "on": []}
    latencies(services["off"], [article_id(i) for i in range(200)], ["w"] * 200)  # warm up
    for r in range(rounds):
        ids = [article_id(int(i)) for i in rng.integers(0, n, calls)]
        sessions = [f"s{int(s)}" for s in rng.integers(0, 100_000, calls)]
        # alternate which mode goes first, so drift in the machine's speed hits both alike
        for mode in ("off", "on") if r % 2 == 0 else ("on", "off"):
            times[mode] += latencies(services[mode], ids, sessions)
    written = services["on"]._online.writer
    for svc in services.values():
        svc.close()
    p50 = {mode: statistics.median(values) for mode, values in times.items()}
    p99 = {mode: float(np.percentile(values, 99)) for mode, values in times.items()}
    return {
        "p50_off": p50["off"],
        "p50_on": p50["on"],
        "p99_off": p99["off"],
        "p99_on": p99["on"],
        "ratio": p50["on"] / p50["off"],
        "lists_written": float(written.written),
        "calls": float(len(times["on"])),
    }


def size_per_million(lists: int, tmp: Path) -> float:
    """Bytes on disk per million Lees-ook lists of 4 (ids and context as the demo corpus's)."""
    path = tmp / "size" / "served.db"
    log = SqliteServedLog(path)
    rng = np.random.default_rng(9)
    now = time.time()
    batch = []
    for i in range(lists):
        items = tuple(f"article-{int(a):07d}" for a in rng.integers(0, 1_000_000, 4))
        context = f"article-{int(rng.integers(0, 1_000_000)):07d}"
        batch.append(
            ServedList(
                f"{rng.integers(0, 2**63):016x}{i:016x}",
                now + i,
                "related",
                "A",
                context,
                "Buitenland",
                items,
            )
        )
        if len(batch) == 5_000:
            log.add_served(batch)
            batch = []
    log.add_served(batch)
    log.close()  # closing checkpoints the WAL into the file
    size = sum(p.stat().st_size for p in path.parent.iterdir())
    return size / lists * 1_000_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--lists", type=int, default=200_000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cost = overhead(args.articles, args.rounds, args.calls, Path(tmp))
        size = size_per_million(args.lists, Path(tmp))
    body = "\n".join(
        [
            "## Served-list log (`scripts/bench_served_log.py`)",
            "",
            f"{cpu_description()}; {args.articles:,} articles (flat index), "
            f"{int(cost['calls']):,} Lees-ook calls per mode, log on and off interleaved in one "
            "run.",
            "",
            "| served-list log | p50 ms | p99 ms | p50 vs off |",
            "|---|---|---|---|",
            f"| off (baseline) | {cost['p50_off']:.3f} | {cost['p99_off']:.3f} | 1.00× |",
            f"| on | {cost['p50_on']:.3f} | {cost['p99_on']:.3f} | {cost['ratio']:.3f}× |",
            "",
            "Lists written by the background writer during the run: "
            f"{int(cost['lists_written']):,}. "
            f"Size on disk: **{size / 1e6:.0f} MB per million lists** (measured on {args.lists:,} "
            "lists of 4 items; 16-byte ids, an appending rowid table plus a time index).",
        ]
    )
    print(body)
    if not args.no_write:
        write_section(ROOT / "BENCHMARKS.md", "served-log", body)


if __name__ == "__main__":
    main()
