"""Lexical index benchmark: what the lexical signal costs a Lees-ook request, reading the
precomputed neighbour lists against the live "more like this" search in the same run, and the
vectorised name overlap against the per-candidate loop; build time and memory of the lists; the
cost of a publish; how close the lists stay to the live search after the corpus grew.

    .venv/bin/python scripts/bench_lexical.py                        # 10k and 100k, writes
    .venv/bin/python scripts/bench_lexical.py --sizes 10000 --no-write

Corpus: the real Dutch DPG articles (../shared/data/dpg-nl-2019), analysed once (Dutch
stemming and stop words) and recombined: each synthetic article is one real headline's terms
(twice, as the index weighs titles) plus a window of 150 analysed terms of one real text at a
random offset, and the salient names of that headline, so term statistics are real Dutch news.
A request is what the ranker asks: neighbours(k=50), then similarities and name overlap of 200
candidates (those 50, the next 100 lexical neighbours standing in for the vector neighbours,
random ones for the popular stories), a new article each time (no cache).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
import tracemalloc
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_report import cpu_description, write_section  # noqa: E402

from recommender.component_configs import LexicalListsConfig  # noqa: E402
from recommender.lexical import LexicalSearch  # noqa: E402
from recommender.lexical.analysis import Analyzer  # noqa: E402
from recommender.lexical.index import LexicalIndex  # noqa: E402
from recommender.lexical.names import Names, extract_names, name_overlap  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "dpg-nl-2019" / "articles.jsonl"
WINDOW = 150  # analysed terms of text per article (about 250 words before stop words go)
K = 50  # the ranker's lexical candidates
CANDIDATES = 200  # ids a request scores (vector, lexical, co-read and popular candidates)
MEMORY_SAMPLE = 20_000  # tracemalloc slows a build several times over; memory grows linearly
Doc = tuple[str, list[str], str]
Parts = tuple[list[list[str]], list[list[str]], list[Names]]


def pool() -> tuple[Parts, float]:
    """Analysed titles, texts and title names of the real articles; ms of analysis for one
    article's title and first 250 words."""
    records = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    records = [r for r in records if r.get("title") and len(r.get("text", "").split()) > 50]
    analyzer = Analyzer()
    started = time.perf_counter()
    for r in records:
        analyzer.terms(r["title"] + "\n" + " ".join(r["text"].split()[:250]), "nl")
    analysis_ms = (time.perf_counter() - started) / len(records) * 1000.0
    titles = [analyzer.terms(r["title"], "nl") for r in records]
    texts = [analyzer.terms(r["text"], "nl") for r in records]
    names = [
        extract_names(analyzer, r["title"], " ".join(r["text"].split()[:60]), "nl", (), Counter(t))
        for r, t in zip(records, texts, strict=True)
    ]
    return (titles, texts, names), analysis_ms


def index_bytes(docs: list[Doc]) -> float:
    """Bytes per article of the index (Python objects included), by tracemalloc on a sample."""
    sample = docs[:MEMORY_SAMPLE]
    gc.collect()
    tracemalloc.start()
    index = LexicalIndex()
    index.upsert_many(sample)
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del index
    return held / len(sample)


def corpus(n: int, seed: int, parts: Parts) -> tuple[list[Doc], dict[str, Names]]:
    titles, texts, names = parts
    rng = np.random.default_rng(seed)
    docs: list[Doc] = []
    named: dict[str, Names] = {}
    for i in range(n):
        head = int(rng.integers(len(titles)))
        body = texts[int(rng.integers(len(texts)))]
        start = int(rng.integers(max(1, len(body) - WINDOW)))
        docs.append((f"a{seed}-{i}", titles[head] * 2 + body[start : start + WINDOW], ""))
        named[f"a{seed}-{i}"] = names[head]
    return docs, named


def pcts(samples: list[float]) -> tuple[float, float]:
    ms = np.array(samples) * 1000.0
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def served(docs: list[Doc], names: dict[str, Names], depth: int) -> tuple[LexicalSearch, float]:
    """A search over docs as a build makes it (one bulk batch); seconds of the lists part."""
    search = LexicalSearch(lists=LexicalListsConfig(depth=0))
    search.index.upsert_many(docs)
    search.names.update(names)
    search.name_table.put_many(names.items())
    search.listed.config = LexicalListsConfig(depth=depth)
    started = time.perf_counter()
    if depth:
        search.listed.compute_all()
    return search, time.perf_counter() - started


def requests(
    search: LexicalSearch, queries: list[str], rng: np.random.Generator
) -> dict[str, float]:
    """Per-request cost through the lists and through the live search, interleaved."""
    ids = list(search.index.rows)
    samples: dict[str, list[float]] = {k: [] for k in ("lists", "live", "names_vec", "names_loop")}
    lists_on, lists_off = search.listed.config, LexicalListsConfig(depth=0)
    for query in queries:
        # the ranker's other candidates: vector neighbours (topically close: stood in for by
        # the next lexical ones) and popular stories (random)
        close = [i for i, _ in search.index.neighbours(query, CANDIDATES)][K:]
        others = close + [ids[i] for i in rng.integers(len(ids), size=CANDIDATES - len(close))]
        for config, label in ((lists_on, "lists"), (lists_off, "live")):
            search.listed.config = config
            search.listed._cache.clear()  # each request is a new article
            search.index._cache.clear()
            started = time.perf_counter()
            found = [i for i, _ in search.neighbours(query, K)]
            search.similarities(query, found + others)
            samples[label].append(time.perf_counter() - started)
        search.listed.config = lists_on
        candidates = [i for i, _ in search.neighbours(query, K)] + others
        started = time.perf_counter()
        search.name_overlap(query, candidates)
        samples["names_vec"].append(time.perf_counter() - started)
        started = time.perf_counter()
        name_overlap(
            search.names.get(query), [search.names.get(c) for c in candidates], search.key_idf
        )
        samples["names_loop"].append(time.perf_counter() - started)
    out = {}
    for label, values in samples.items():
        out[f"{label}_p50"], out[f"{label}_p99"] = pcts(values)
    return out


def publishes(search: LexicalSearch, docs: list[Doc], names: dict[str, Names]) -> float:
    """Milliseconds per published article (index, names and lists), one at a time."""
    started = time.perf_counter()
    for doc in docs:
        search.index.upsert_many([doc])
        search.name_table.put_many([(doc[0], names[doc[0]])])
        search.listed.after_write([doc[0]])
    return (time.perf_counter() - started) / len(docs) * 1000.0


def overlap_at(search: LexicalSearch, sample: list[str], k: int = 10) -> float:
    """Mean share of the lists' top k that belongs in the live search's top k, ties counted:
    every article scoring at least the live k-th score does (the live order of equal scores
    is arbitrary, and this corpus has many: its articles share headlines)."""
    shares = []
    for article_id in sample:
        live = search.index.neighbours(article_id, 4 * k)
        if len(live) >= k:
            kth = live[k - 1][1] - 1e-9
            fits = {i for i, score in live if score >= kth}
            got = [i for i, _ in search.listed.neighbours(article_id, k)]
            shares.append(sum(i in fits for i in got) / k)
    return float(np.mean(shares))


def bench_size(n: int, parts: Parts, queries: int, growth: float) -> dict[str, float]:
    docs, names = corpus(n, 1, parts)
    started = time.perf_counter()
    search, lists_s = served(docs, names, LexicalListsConfig.depth)
    index_s = time.perf_counter() - started - lists_s
    rng = np.random.default_rng(2)
    ids = list(search.index.rows)
    asked = [ids[i] for i in rng.integers(len(ids), size=queries).tolist()]
    result = requests(search, asked, rng)
    assert search.listed.lists is not None
    result |= {
        "index_s": index_s,
        "lists_s": lists_s,
        "index_bytes": index_bytes(docs),
        "lists_bytes": search.listed.lists.nbytes / n,
        "names_bytes": search.name_table.nbytes / n,
    }
    extra, extra_names = corpus(int(n * growth), 3, parts)
    search.names.update(extra_names)
    result["publish_ms"] = publishes(search, extra, extra_names)
    sample = [ids[i] for i in rng.integers(len(ids), size=min(500, n)).tolist()]
    result["overlap10"] = overlap_at(search, [i for i in sample if i in search.index.rows])
    return result


def render(
    results: dict[int, dict[str, float]], args: argparse.Namespace, load: str, analysis_ms: float
) -> str:
    sizes = " ".join(str(n) for n in results)
    lines = [
        "## Lexical index: neighbour lists and name overlap per request",
        "",
        f"Machine: {cpu_description()}. Command: `.venv/bin/python scripts/bench_lexical.py"
        f" --sizes {sizes} --queries {args.queries}`. Load average (1, 5, 15 min) {load}: "
        "only the ratios within a row compare. Real Dutch DPG text, analysed and recombined.",
        "",
        "| articles | lexical per request p50 / p99 ms: lists | live search | ratio p99 "
        "| name overlap p50 / p99 ms: vectorised | loop | ratio p99 |",
        "|---|---|---|---|---|---|---|",
    ]
    for n, r in results.items():
        lines.append(
            f"| {n:,} | {r['lists_p50']:.3f} / {r['lists_p99']:.3f} | {r['live_p50']:.3f} / "
            f"{r['live_p99']:.3f} | {r['lists_p99'] / r['live_p99']:.3f} | "
            f"{r['names_vec_p50']:.3f} / {r['names_vec_p99']:.3f} | {r['names_loop_p50']:.3f} / "
            f"{r['names_loop_p99']:.3f} | {r['names_vec_p99'] / r['names_loop_p99']:.3f} |"
        )
    lines += [
        "",
        "| articles | index build s | lists build s | index bytes/article | lists bytes/article "
        "| name table bytes/article | publish ms (lists kept) | overlap@10 with live after "
        f"+{args.growth:.0%} |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n, r in results.items():
        lines.append(
            f"| {n:,} | {r['index_s']:.1f} | {r['lists_s']:.1f} | {r['index_bytes']:,.0f} | "
            f"{r['lists_bytes']:,.0f} | "
            f"{r['names_bytes']:,.0f} | {r['publish_ms']:.2f} | {r['overlap10']:.3f} |"
        )
    lines += [
        "",
        f"A request: neighbours(k={K}), then similarities of those {K} and {CANDIDATES} more "
        "candidates (the next lexical neighbours standing in for the vector neighbours, random "
        "ones for the popular stories), through the "
        f"lists (depth {LexicalListsConfig.depth}, listed rows scored again with today's "
        "statistics) and through the live search (a postings walk), interleaved, each for a new "
        f"article. Name overlap: the same {K + CANDIDATES} candidates, NameTable against the "
        "per-candidate loop it replaces. Lists build: every article's list by sparse products, "
        "after the index build. Index memory: tracemalloc of a "
        f"{MEMORY_SAMPLE:,}-article build (Python objects included); lists and name table: "
        "their arrays. Analysis (tokenise, stop words, Snowball; not in the build times): "
        f"{analysis_ms:.2f} ms per article of headline and 250 words. Publish: one article at "
        "a time into the index, the name table "
        "and the lists (its own list, the lists it enters, stale lists refreshed). Overlap@10: "
        "the share of the lists' top 10 that the live search ranks in its top 10 (ties counted), "
        "for 500 articles, after the "
        f"corpus grew by {args.growth:.0%} through those publishes.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--growth", type=float, default=0.02)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    before = os.getloadavg()
    parts, analysis_ms = pool()
    results = {n: bench_size(n, parts, args.queries, args.growth) for n in args.sizes}
    after = os.getloadavg()
    load = " → ".join("/".join(f"{v:.1f}" for v in avg) for avg in (before, after))
    body = render(results, args, load, analysis_ms)
    print(body)  # noqa: T201
    if not args.no_write:
        write_section(ROOT / "BENCHMARKS.md", "lexical", body)


if __name__ == "__main__":
    main()
