"""Lexical index benchmark: build time, memory per article and query time at 100k articles,
for the served BM25 index (recommender.lexical) against scikit-learn TF-IDF (the brute-force
sparse product the evaluation used before), measured in the same run.

    .venv/bin/python scripts/bench_lexical.py                   # 100k (writes BENCHMARKS.md)
    .venv/bin/python scripts/bench_lexical.py --articles 20000 --no-write

Corpus: the real Dutch DPG articles (../shared/data/dpg-nl-2019) recombined: each synthetic
article is one real headline plus 250 words drawn from one real text in its own order with a
random offset, so vocabulary and term statistics are real Dutch news. Language is set ("nl"),
so detection is not timed; analysis (tokenise, stop words, Snowball) is timed on its own.
Query = what Lees ook asks per request: neighbours(k=100) and similarities of 100 candidates.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_report import cpu_description, write_section  # noqa: E402

from recommender.articles import Article  # noqa: E402
from recommender.lexical import LexicalSearch  # noqa: E402
from recommender.lexical.index import LexicalIndex  # noqa: E402
from recommender.lexical.names import Names  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "dpg-nl-2019" / "articles.jsonl"
WORDS = 250
MEMORY_SAMPLE = 20_000


def corpus(n: int, seed: int) -> list[Article]:
    records = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    records = [r for r in records if r.get("title") and len(r.get("text", "").split()) > 50]
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        title = records[int(rng.integers(len(records)))]["title"]
        words = records[int(rng.integers(len(records)))]["text"].split()
        start = int(rng.integers(max(1, len(words) - WORDS)))
        text = " ".join(words[start : start + WORDS])
        out.append(Article(id=f"a{i}", title=title, text=text, language="nl"))
    return out


def percentiles(samples: list[float]) -> tuple[float, float]:
    values = np.array(samples) * 1000.0
    return float(np.percentile(values, 50)), float(np.percentile(values, 99))


def traced_bytes(build: Callable[[], object]) -> tuple[float, object]:
    gc.collect()
    tracemalloc.start()
    built = build()
    memory = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return float(memory), built


def bench_served(articles: list[Article], queries: list[str]) -> dict[str, float]:
    search = LexicalSearch()
    started = time.perf_counter()
    analysed = [search.analyse(a) for a in articles]
    analysis_s = time.perf_counter() - started
    docs = [(a.id, terms, "") for a, (terms, _) in zip(articles, analysed, strict=True)]
    started = time.perf_counter()
    search.index.upsert_many(docs)
    build_s = time.perf_counter() - started
    # memory on a sample (tracemalloc slows a build several times over); it grows linearly
    sample = min(len(docs), MEMORY_SAMPLE)

    def sample_index(part: list[tuple[str, list[str], str]] = docs[:sample]) -> LexicalIndex:
        index = LexicalIndex()
        index.upsert_many(part)
        return index

    index_bytes, _ = traced_bytes(sample_index)
    names_sample = analysed[:sample]
    names_bytes, _ = traced_bytes(
        lambda: {
            a.id: Names.of(n.names, n.plain)
            for a, (_, n) in zip(articles, names_sample, strict=False)
        }
    )
    samples = []
    for query in queries:
        search.index._cache.clear()  # each request is a new article
        started = time.perf_counter()
        found = [i for i, _ in search.neighbours(query, 100)]
        search.similarities(query, found)
        samples.append(time.perf_counter() - started)
    p50, p99 = percentiles(samples)
    extra = corpus(200, seed=7)
    started = time.perf_counter()
    for item in extra:
        search.upsert([item.model_copy(update={"id": f"live-{item.id}"})])
    upsert_ms = (time.perf_counter() - started) / len(extra) * 1000.0
    return {
        "analysis_s": analysis_s,
        "build_s": build_s,
        "bytes_per_article": index_bytes / sample,
        "names_bytes_per_article": names_bytes / sample,
        "query_p50_ms": p50,
        "query_p99_ms": p99,
        "live_upsert_ms": upsert_ms,
    }


def bench_tfidf(articles: list[Article], queries: list[str]) -> dict[str, float]:
    texts = [f"{a.title}\n{a.text}" for a in articles]
    row = {a.id: n for n, a in enumerate(articles)}
    started = time.perf_counter()
    vectorizer = TfidfVectorizer(sublinear_tf=True, max_df=0.5, strip_accents="unicode")
    matrix = vectorizer.fit_transform(texts)
    build_s = time.perf_counter() - started
    # the matrix is what stays in memory (the vectoriser's vocabulary comes on top)
    memory = matrix.data.nbytes + matrix.indices.nbytes + matrix.indptr.nbytes
    samples = []
    for query in queries[:200]:
        started = time.perf_counter()
        sims = (matrix @ matrix[row[query]].T).toarray().ravel()
        top = np.argpartition(-sims, 101)[:101]
        _ = top[np.argsort(-sims[top])]
        samples.append(time.perf_counter() - started)
    p50, p99 = percentiles(samples)
    return {
        "analysis_s": 0.0,
        "build_s": build_s,
        "bytes_per_article": memory / len(articles),
        "names_bytes_per_article": float("nan"),
        "query_p50_ms": p50,
        "query_p99_ms": p99,
        "live_upsert_ms": float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    articles = corpus(args.articles, seed=1)
    rng = np.random.default_rng(2)
    queries = [articles[int(i)].id for i in rng.integers(len(articles), size=args.queries)]
    rows = {
        "served BM25 (recommender.lexical)": bench_served(articles, queries),
        "baseline: scikit-learn TF-IDF, brute force": bench_tfidf(articles, queries),
    }
    served, base = rows.values()
    lines = [
        f"## Lexical index ({args.articles:,} articles)",
        "",
        f"Machine: {cpu_description()}. Command: `.venv/bin/python scripts/bench_lexical.py"
        f" --articles {args.articles}`. Real Dutch DPG text recombined, {WORDS} words each.",
        "",
        "| implementation | analysis s | build s | index bytes/article | names bytes/article | "
        "query p50 ms | query p99 ms | live upsert ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        lines.append(
            f"| {name} | {r['analysis_s']:.1f} | {r['build_s']:.1f} | "
            f"{r['bytes_per_article']:,.0f} | {r['names_bytes_per_article']:,.0f} | "
            f"{r['query_p50_ms']:.3f} | "
            f"{r['query_p99_ms']:.3f} | {r['live_upsert_ms']:.2f} |"
        )
    lines += [
        "",
        f"Query p99 ratio served/baseline: {served['query_p99_ms'] / base['query_p99_ms']:.3f}. "
        "A query is neighbours(k=100) plus similarities of 100 candidates (the baseline: one "
        "sparse product over every article and a top-100). Memory: tracemalloc of a "
        f"{MEMORY_SAMPLE:,}-article build (served), the sparse matrix's arrays (baseline). The "
        "build times exclude analysis, timed on its own; the baseline tokenises in its build.",
    ]
    body = "\n".join(lines)
    print(body)  # noqa: T201
    if not args.no_write:
        write_section(ROOT / "BENCHMARKS.md", "lexical", body)


if __name__ == "__main__":
    main()
