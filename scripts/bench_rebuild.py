"""Benchmark: full index build vs. an incremental rebuild after changing a fraction of articles.

The DPG corpus (1,438 real Dutch articles) is scaled up by publishing each article under several
ids with a small text change ("(editie N)" in the title), so every copy has its own embedding.
Each build phase runs in its own subprocess, like `recommender build` would, so its peak RSS and
its model load are its own.

    .venv/bin/python scripts/bench_rebuild.py --articles 50000 --changed-fraction 0.01

The results table goes into BENCHMARKS.md between the bench_rebuild markers. With --resume, a
full build already measured in --workdir (same parameters) is reused and only the incremental
phase runs again.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_report import write_section  # noqa: E402

MARK = "bench_rebuild"


def settings_for(workdir: Path, model: str, index_type: str = "auto") -> Any:
    from recommender.config import Settings

    return Settings(
        data_dir=workdir / "data",
        models_dir=workdir / "models",
        model_name=model,
        index_type=index_type,
    )


def scaled_articles(source: Path, count: int) -> list[Any]:
    """count articles: the real ones first, then edition copies of them, round-robin."""
    from recommender.articles import Article, read_articles

    base = [item for _, item in read_articles(source) if isinstance(item, Article)]
    out: list[Article] = []
    edition = 0
    while len(out) < count:
        for article in base:
            if len(out) == count:
                break
            if edition == 0:
                out.append(article)
            else:
                out.append(
                    article.model_copy(
                        update={
                            "id": f"{article.id}-e{edition}",
                            "title": f"{article.title} (editie {edition})",
                            "url": f"{article.url}?editie={edition}" if article.url else None,
                        }
                    )
                )
        edition += 1
    return out


def peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def index_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def timed_build(settings: Any, store: Any) -> dict[str, Any]:
    """Load the model, run build_index on store, close it; the figures a phase reports."""
    from recommender.build import build_index
    from recommender.embedding import create_embedder

    started = time.perf_counter()
    embedder = create_embedder(settings)
    load_s = time.perf_counter() - started
    result = build_index(settings, store, embedder)
    store.close()
    return {
        "model_load_s": load_s,
        "build_s": result.seconds,
        "total_s": time.perf_counter() - started,
        "count": result.count,
        "reused": result.reused,
        "embedded": result.embedded,
        "kind": result.kind,
        "index_bytes": index_bytes(result.folder),
        "peak_rss_mb": peak_rss_mb(),
        "timings": result.timings,
        "load_avg_end": os.getloadavg()[0],
    }


def phase_full(args: argparse.Namespace) -> dict[str, Any]:
    """Fresh store with the scaled corpus, then a cold build (nothing cached)."""
    from recommender.store import SqliteStore as Store

    settings = settings_for(args.workdir, args.model, args.index_type)
    articles = scaled_articles(args.data, args.articles)
    store = Store(settings.db_path, settings.sqlite_synchronous)
    for start in range(0, len(articles), 1_000):
        store.upsert_articles(articles[start : start + 1_000])
    return {
        "phase": "full",
        "articles": args.articles,
        "model": args.model,
        **timed_build(settings, store),
    }


def phase_incremental(args: argparse.Namespace) -> dict[str, Any]:
    """Change a fraction of the articles (a corrected lead), then rebuild."""
    from recommender.store import SqliteStore as Store

    settings = settings_for(args.workdir, args.model, args.index_type)
    store = Store(settings.db_path, settings.sqlite_synchronous)
    rng = random.Random(args.seed)
    ids = sorted(a.id for a in store.iter_articles())
    stamp = datetime.now(UTC).strftime("%H:%M:%S.%f")
    chosen = rng.sample(ids, int(round(len(ids) * args.changed_fraction)))
    changed = []
    for article_id in chosen:
        article = store.get_article(article_id)
        assert article is not None
        lead = f"Bijgewerkt {stamp}. {article.lead}".strip()
        changed.append(article.model_copy(update={"lead": lead}))
    store.upsert_articles(changed)
    return {"phase": "incremental", "changed": len(changed), **timed_build(settings, store)}


def run_phase(args: argparse.Namespace, phase: str) -> dict[str, Any]:
    out = args.workdir / f"{phase}.json"
    command = [
        sys.executable,
        __file__,
        "--phase",
        phase,
        "--articles",
        str(args.articles),
        "--changed-fraction",
        str(args.changed_fraction),
        "--model",
        args.model,
        "--data",
        str(args.data),
        "--workdir",
        str(args.workdir),
        "--seed",
        str(args.seed),
        "--index-type",
        args.index_type,
    ]
    print(f"[bench_rebuild] {phase} build ...", flush=True)
    subprocess.run(command, check=True)
    result: dict[str, Any] = json.loads(out.read_text())
    print(f"[bench_rebuild] {phase}: {json.dumps(result)}", flush=True)
    return result


def table(full: dict[str, Any], inc: dict[str, Any], args: argparse.Namespace) -> str:
    ratio = inc["build_s"] / full["build_s"]
    ratio_total = inc["total_s"] / full["total_s"]
    command = (
        f"python scripts/bench_rebuild.py --articles {args.articles} "
        f"--changed-fraction {args.changed_fraction} --model {args.model}"
        + ("" if args.index_type == "auto" else f" --index-type {args.index_type}")
    )
    lines = [
        f"### Incremental rebuild ({args.articles:,} articles, "
        f"{args.changed_fraction:.0%} changed, model `{args.model}`, "
        f"{inc['kind']} index)",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on this machine "
        f"({_cpu_count()} CPU cores); corpus: `{args.data.name}` scaled up with "
        '"(editie N)" copies. Each build ran in its own process; *build* is '
        "`build_index` (store → embeddings → index folder → switch), *total* adds loading "
        "the model.",
        "",
        "| build | articles | embedded | reused | build s | total s | peak RSS MB "
        "| index bytes/article | load avg at end |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in (("full (cold cache)", full), ("incremental", inc)):
        load = r.get("load_avg_end")
        lines.append(
            f"| {name} | {r['count']:,} | {r['embedded']:,} | {r['reused']:,} "
            f"| {r['build_s']:.1f} | {r['total_s']:.1f} | {r['peak_rss_mb']:.0f} "
            f"| {r['index_bytes'] / max(r['count'], 1):,.0f} "
            f"| {'n/a' if load is None else f'{load:.1f}'} |"
        )
    timings = inc.get("timings") or {}
    if timings:
        parts = ", ".join(f"{k.removesuffix('_s')} {v:.1f}s" for k, v in timings.items())
        lines += ["", f"Incremental build, where the time went: {parts}."]
    lines += [
        "",
        f"Incremental / full: **{ratio:.1%}** of the build time "
        f"({ratio_total:.1%} including model load); target ≤ 5%.",
        "",
        f"Command: `{command}`",
    ]
    return "\n".join(lines)


def _cpu_count() -> int:
    return os.cpu_count() or 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=50_000)
    parser.add_argument("--changed-fraction", type=float, default=0.01)
    parser.add_argument("--model", default="bundled:all-MiniLM-L6-v2")
    parser.add_argument(
        "--data", type=Path, default=ROOT.parent / "shared/data/dpg-nl-2019/articles.jsonl"
    )
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--index-type", choices=["auto", "flat", "hnsw"], default="auto", help="as the setting"
    )
    parser.add_argument(
        "--resume", action="store_true", help="reuse a full build measured in --workdir"
    )
    parser.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    parser.add_argument(
        "--include", type=Path, nargs="*", default=[], help="workdirs of other runs to add"
    )
    parser.add_argument("--phase", choices=["full", "incremental"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.workdir is None:
        slug = re.sub(r"\W+", "-", args.model).strip("-")
        args.workdir = Path(f"/tmp/bench_rebuild-{args.articles}-{slug}")
    if args.phase:
        import logging

        logging.basicConfig(level=logging.WARNING)
        result = phase_full(args) if args.phase == "full" else phase_incremental(args)
        (args.workdir / f"{args.phase}.json").write_text(json.dumps(result, indent=2))
        return

    full_json = args.workdir / "full.json"
    full: dict[str, Any] | None = None
    if args.resume and full_json.is_file():
        full = json.loads(full_json.read_text())
        if (
            full.get("articles") != args.articles
            or full.get("model") != args.model
            or args.index_type not in ("auto", full.get("kind"))
        ):
            full = None
    if full is None:
        import shutil

        shutil.rmtree(args.workdir, ignore_errors=True)
        args.workdir.mkdir(parents=True)
        full = run_phase(args, "full")
    else:
        print(f"[bench_rebuild] reusing full build from {full_json}", flush=True)
    inc = run_phase(args, "incremental")
    body = table(full, inc, args)
    (args.workdir / "table.md").write_text(body)
    print(body)
    for other in args.include:
        body += "\n\n" + (other / "table.md").read_text()
    if not args.no_write:
        write_section(args.out, MARK, body)
        print(f"[bench_rebuild] wrote {args.out}")


if __name__ == "__main__":
    main()
