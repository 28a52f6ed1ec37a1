"""Co-read table benchmark: memory per article, events per second and query time at 100k
articles, against a table without the neighbour bound measured in the same run.

    .venv/bin/python scripts/bench_coreads.py                  # writes BENCHMARKS.md
    .venv/bin/python scripts/bench_coreads.py --events 200000 --no-write

Events: sessions of 2 to 12 reads each, articles drawn from a Zipf law (a few stories take
most reads, as on a news site), one read every few seconds.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_report import cpu_description, write_section  # noqa: E402

from recommender.config import CoReadConfig  # noqa: E402
from recommender.coreads import CoReads  # noqa: E402
from recommender.events import Event  # noqa: E402


def events(n: int, articles: int, seed: int) -> list[Event]:
    rng = np.random.default_rng(seed)
    picks = (rng.zipf(1.3, size=n) - 1) % articles
    lengths = rng.integers(2, 13, size=n // 2)
    session = np.repeat(np.arange(len(lengths)), lengths)[:n]
    ts = 1_700_000_000.0 + np.cumsum(rng.uniform(0, 4, size=n))
    return [
        Event(float(t), "view", f"a{int(a)}", f"s{int(s)}")
        for t, a, s in zip(ts, picks, session, strict=False)
    ]


def measure(config: CoReadConfig, stream: list[Event], articles: int) -> dict[str, float]:
    gc.collect()
    tracemalloc.start()
    counter = CoReads(config)
    started = time.perf_counter()
    counter.record_many(stream)
    seconds = time.perf_counter() - started
    memory = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    rng = np.random.default_rng(3)
    known = list(counter.pairs)
    samples = []
    for i in rng.integers(len(known), size=1_000):
        candidates = [f"a{int(c)}" for c in rng.integers(articles, size=150)]
        started = time.perf_counter()
        counter.neighbours(known[int(i)], 50)
        counter.similarities(known[int(i)], candidates)
        samples.append(time.perf_counter() - started)
    return {
        "articles_with_pairs": float(len(counter.pairs)),
        "bytes_per_article": memory / max(len(counter.pairs), 1),
        "pairs_per_article": counter.entries() / max(len(counter.pairs), 1),
        "events_per_s": len(stream) / seconds,
        "p99_ms": float(np.percentile(np.array(samples) * 1000, 99)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    stream = events(args.events, args.articles, seed=1)
    rows = {
        "served (50 neighbours per article)": measure(CoReadConfig(), stream, args.articles),
        "baseline: unbounded table": measure(CoReadConfig(neighbours=10**9), stream, args.articles),
    }
    lines = [
        f"## Co-read table ({args.articles:,} articles, {args.events:,} reads)",
        "",
        f"Machine: {cpu_description()}. Command: `.venv/bin/python scripts/bench_coreads.py"
        f" --articles {args.articles} --events {args.events}`.",
        "",
        "| table | articles with pairs | pairs/article | bytes/article | reads/s | query p99 ms |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        lines.append(
            f"| {name} | {r['articles_with_pairs']:,.0f} | {r['pairs_per_article']:.1f} | "
            f"{r['bytes_per_article']:,.0f} | {r['events_per_s']:,.0f} | {r['p99_ms']:.3f} |"
        )
    served, base = rows.values()
    lines += [
        "",
        f"Memory ratio served/unbounded: "
        f"{served['bytes_per_article'] / base['bytes_per_article']:.2f}. A query is "
        "neighbours(k=50) plus similarities of 150 candidates. Memory: tracemalloc of the table.",
    ]
    body = "\n".join(lines)
    print(body)  # noqa: T201
    if not args.no_write:
        write_section(ROOT / "BENCHMARKS.md", "coreads", body)


if __name__ == "__main__":
    main()
