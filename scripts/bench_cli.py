"""Wall-clock time of the read-only CLI commands (`recommender related --json`, `popular
--json`) on the demo corpus with the real bundled model, against the same list asked of a fully
started service, which loads the embedding model first (what `related` did before it read the
saved index only). Each command is a fresh process, as an operator or a script runs it.

    python scripts/bench_cli.py [--runs 5]     # writes its section of BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_report import cpu_description, write_section

ROOT = Path(__file__).resolve().parent.parent
STORY = "demo-016"
# the pre-change path: a started service (model loaded), then the list
FULL_SERVICE = (
    "from recommender.cli.common import load_settings, started_service\n"
    f"service = started_service(load_settings()); service.related({STORY!r}, 4); service.close()"
)


def timed(command: list[str], env: dict[str, str], runs: int) -> list[float]:
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, env=env, check=True, capture_output=True, cwd=ROOT)
        seconds.append(time.perf_counter() - started)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    cli = [sys.executable, "-m", "recommender"]
    with tempfile.TemporaryDirectory() as work:
        env = {
            **os.environ,
            "RECOMMENDER_DATA_DIR": f"{work}/var",
            "RECOMMENDER_MODELS_DIR": f"{work}/models",
            "RECOMMENDER_RANKER_PATH": str(ROOT / "models" / "ranker.json"),
        }
        subprocess.run([*cli, "demo"], env=env, check=True, capture_output=True, cwd=ROOT)
        rows = {
            f"`recommender related {STORY} --json`": timed(
                [*cli, "related", STORY, "--json"], env, args.runs
            ),
            "`recommender popular --json`": timed([*cli, "popular", "--json"], env, args.runs),
            "baseline: started service (model loaded) + related": timed(
                [sys.executable, "-c", FULL_SERVICE], env, args.runs
            ),
        }
    baseline = statistics.median(rows["baseline: started service (model loaded) + related"])
    lines = [
        "## Read-only CLI commands (`scripts/bench_cli.py`)",
        "",
        f"- Machine: {cpu_description()}; shared with other work, so the wall times vary.",
        f"- The 172-article demo corpus, real bundled model, {args.runs} fresh processes each "
        "(interpreter start and imports included). Target: at most 2 s.",
        "",
        "| command | median s | min s | max s | vs baseline |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, seconds in rows.items():
        median = statistics.median(seconds)
        lines.append(
            f"| {name} | {median:.2f} | {min(seconds):.2f} | {max(seconds):.2f} | "
            f"{baseline / median:.1f}× faster |"
            if not name.startswith("baseline")
            else f"| {name} | {median:.2f} | {min(seconds):.2f} | {max(seconds):.2f} | 1.0× |"
        )
    body = "\n".join(lines)
    write_section(ROOT / "BENCHMARKS.md", "cli", body)
    print(body)


if __name__ == "__main__":
    main()
