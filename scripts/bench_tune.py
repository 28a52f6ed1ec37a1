"""Benchmark: `recommender tune` on the DPG corpus, and on a sampled 50k-article corpus under a
time budget. Each run is its own subprocess (as an operator runs it), so its wall time and peak
RSS are its own; the baseline is `recommender build` (embedding the whole corpus once with the
base model) on the same store in the same run.

    .venv/bin/python scripts/bench_tune.py                       # DPG (1 epoch) and 50k (5 min)
    .venv/bin/python scripts/bench_tune.py --phases dpg --keep ../tune-dpg

The 50k corpus cycles the DPG articles with perturbed copies (a few words dropped, sentences
rotated), so every copy is a distinct text. --keep leaves the DPG store and tuned model there
(scripts/seed_page_check.py and scripts/tune_guard_mind.py use them).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_report import cpu_description, write_section  # noqa: E402

MARK = "bench_tune"
DPG = ROOT.parent / "shared" / "data" / "dpg-nl-2019" / "articles.jsonl"
CLI = "import sys; from recommender.cli import app; sys.argv[0] = 'recommender'; app()"


def perturbed(article: Any, copy: int, rng: np.random.Generator) -> Any:
    """A distinct copy: sentences rotated, about 5% of the words dropped."""
    sentences = article.text.split(". ")
    turn = int(rng.integers(len(sentences))) if sentences else 0
    words = ". ".join(sentences[turn:] + sentences[:turn]).split()
    kept = [w for w in words if rng.random() > 0.05]
    return article.model_copy(
        update={"id": f"{article.id}-c{copy}", "title": article.title, "text": " ".join(kept)}
    )


def fill_store(workdir: Path, count: int | None) -> int:
    from recommender.articles import Article, read_articles
    from recommender.store import SqliteStore

    base = [item for _, item in read_articles(DPG) if isinstance(item, Article)]
    store = SqliteStore(workdir / "data" / "recommender.db", "NORMAL")
    rng = np.random.default_rng(7)
    total = count or len(base)
    batch: list[Any] = []
    for i in range(total):
        source = base[i % len(base)]
        batch.append(source if i < len(base) else perturbed(source, i // len(base), rng))
        if len(batch) == 2_000:
            store.upsert_articles(batch)
            batch = []
    store.upsert_articles(batch)
    store.close()
    return total


def run_cli(workdir: Path, args: list[str]) -> dict[str, float]:
    """Run one command in its own process: wall seconds and that process's peak RSS."""
    env = os.environ | {
        "PYTHONPATH": str(ROOT),
        "RECOMMENDER_DATA_DIR": str(workdir / "data"),
        "RECOMMENDER_MODELS_DIR": str(workdir / "models"),
        "RECOMMENDER_SQLITE_SYNCHRONOUS": "NORMAL",
    }
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", CLI, *args], env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) not in (0, 3):
        raise SystemExit(f"{' '.join(args)} failed with status {status}")
    return {"seconds": round(seconds, 1), "peak_rss_mb": round(usage.ru_maxrss / 1024)}


def newest_manifest(workdir: Path) -> dict[str, Any]:
    folders = sorted((workdir / "models" / "tuned").glob("2*"))
    result: dict[str, Any] = json.loads((folders[-1] / "manifest.json").read_text())
    return result


def phase(workdir: Path, count: int | None, tune_args: list[str], baseline: bool) -> dict[str, Any]:
    articles = fill_store(workdir, count)
    command = "python scripts/bench_tune.py " + " ".join(sys.argv[1:])
    row: dict[str, Any] = {"articles": articles, "args": " ".join(tune_args), "command": command}
    if baseline:
        row["build"] = run_cli(workdir, ["build"])
    row["tune"] = run_cli(workdir, ["tune", *tune_args])
    row["manifest"] = newest_manifest(workdir)
    print(json.dumps(row, indent=1, default=str), flush=True)
    return row


def markdown(rows: dict[str, dict[str, Any]]) -> str:
    lines = [
        "## Tuning the embedding model: `recommender tune` (scripts/bench_tune.py)",
        "",
        f"{cpu_description()}; shared with other jobs (load average 10+ during these runs); "
        f"no GPU. {datetime.now(UTC):%Y-%m-%d}. Commands: "
        + "; ".join(f"{name}: `{row.get('command', '?')}`" for name, row in rows.items())
        + ".",
        "",
        "| corpus | options | pairs trained | stopped | validation MRR before → after "
        "| tune time | tune peak RSS | build (embed all) time | tune / build |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, row in rows.items():
        m, tune, build = row["manifest"], row["tune"], row.get("build")
        ratio = f"{tune['seconds'] / build['seconds']:.1f}×" if build else "n/a"
        build_cell = f"{build['seconds']:.0f} s, {build['peak_rss_mb']} MB" if build else "not run"
        lines.append(
            f"| {name}: {row['articles']:,} articles ({m['articles']['validation']} held out) "
            f"| `{row['args']}` | {m['pairs']['trained']:,} of "
            f"{sum(m['pairs']['available'].values()):,} | {m['epochs']['stopped']} "
            f"| {m['validation']['before']:.4f} → {m['validation']['after']:.4f} "
            f"| {tune['seconds']:.0f} s | {tune['peak_rss_mb']} MB | {build_cell} | {ratio} |"
        )
    lines += [
        "",
        "Validation: on held-out articles (never trained on), the headline must find its own "
        "body among all held-out bodies; mean reciprocal rank. The 50k corpus is DPG cycled "
        "with perturbed copies, so its held-out slice contains near copies of training "
        "articles: its MRR shows the run works under the budget, not quality.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--phases", default="dpg,scaled")
    parser.add_argument("--dpg-args", default="--epochs 1 --max-minutes 20 --seed 13")
    parser.add_argument("--scaled-articles", type=int, default=50_000)
    parser.add_argument("--scaled-args", default="--epochs 1 --max-minutes 5 --seed 13")
    parser.add_argument("--keep", type=Path, help="keep the DPG workdir (store, tuned model)")
    parser.add_argument(
        "--results",
        type=Path,
        default=Path(tempfile.gettempdir()) / "bench_tune_results.json",
        help="rows of earlier phases, so one phase can be rerun alone",
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if not DPG.is_file():
        raise SystemExit(f"{DPG} is missing: the benchmark needs the DPG corpus")
    rows: dict[str, dict[str, Any]] = (
        json.loads(args.results.read_text()) if args.results.is_file() else {}
    )
    for name in args.phases.split(","):
        workdir = (
            args.keep
            if name == "dpg" and args.keep
            else Path(tempfile.mkdtemp(prefix=f"bench-tune-{name}-"))
        )
        shutil.rmtree(workdir, ignore_errors=True)
        (workdir / "data").mkdir(parents=True)
        if name == "dpg":
            rows["DPG"] = phase(workdir, None, args.dpg_args.split(), baseline=True)
        else:
            count = args.scaled_articles
            rows["DPG scaled"] = phase(workdir, count, args.scaled_args.split(), baseline=False)
        if workdir != args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        args.results.write_text(json.dumps(rows, indent=1, default=str))
    if not args.no_write:
        write_section(ROOT / "BENCHMARKS.md", MARK, markdown(rows))


if __name__ == "__main__":
    main()
