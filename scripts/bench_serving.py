"""Serving benchmark: in-process ranking latency and real HTTP latency/throughput for /related
and /popular at 10k, 100k and 1M articles, against two baselines in the same run.

    .venv/bin/python scripts/bench_serving.py                 # 10k, 100k, 1M (writes BENCHMARKS.md)
    .venv/bin/python scripts/bench_serving.py --sizes 100k --duration 5 --no-write

Implementations, each behind the same FastAPI/uvicorn stack (one worker, loopback):
  service  the real create_app over a RecommenderService built from parts (its BLAS pool capped
           at SERVE_BLAS_THREADS, as the app's start-up does; the baselines keep numpy's default)
  naive    what a user would write: numpy brute-force cosine over all vectors, sort by clicks
  chroma   chromadb (embedded) queried with precomputed embeddings, clicks sorted in Python

Corpus: titles of the real Dutch DPG articles (../shared/data/dpg-nl-2019) cycled with id
suffixes, random unit vectors (dim 384; flat index below 200k, HNSW above, as "auto"), and
200k synthetic Zipf-distributed click/view events so popularity is non-trivial. Nothing is
embedded: vectors stand in for the model's, which only matters for quality, not for speed.

Server-side latency is taken inside the server by an outermost ASGI middleware (first byte of
the request scope to the last body chunk handed to uvicorn), so it excludes the load generator
and the kernel. Client-side latency and throughput come from wrk (-t1 -c16) in a separate
process. The machine has 2 cores: wrk and the server compete for them, so req/s is a lower
bound of what a server alone would do; ratios within one run are what to compare.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_report import cpu_description, write_section  # noqa: E402

from recommender.api.app import limit_blas_threads  # noqa: E402
from recommender.articles import Article  # noqa: E402
from recommender.catalog import Card, Catalog  # noqa: E402
from recommender.config import (  # noqa: E402
    CoReadConfig,  # noqa: E402
    PopularityConfig,
    Settings,
)
from recommender.coreads import CoReads  # noqa: E402
from recommender.events import Event  # noqa: E402
from recommender.index import VectorIndex, choose_kind  # noqa: E402
from recommender.lexical import LexicalSearch  # noqa: E402
from recommender.neighbours import NeighbourLists  # noqa: E402
from recommender.popularity import Popularity  # noqa: E402

DIM = 384
SETTINGS = Settings(_env_file=None)  # the service's defaults: index kind, HNSW parameters
MODEL = "bench-random-384"
SECTIONS = ("binnenland", "buitenland", "economie", "sport", "cultuur", "wetenschap", "regio")
DATA = ROOT.parent / "shared" / "data" / "dpg-nl-2019" / "articles.jsonl"
CACHE = ROOT / "var" / "bench-cache"
MARK = "bench_serving"
SIZES = {"10k": 10_000, "100k": 100_000, "1M": 1_000_000}
EVENTS = 200_000
# the synthetic corpus is dated to the run (clicks of the last 48 hours, articles of the last 30
# days), as a live site's is: with a fixed date the service's real clock found every count
# decayed to 0 and every article a year old, a path production never takes (popularity read as
# zeros). BENCH_NOW fixes the date (scripts/dump_lists.py: the same lists in every run).
NOW = float(os.environ.get("BENCH_NOW") or int(time.time()))
CHROMA_MAX = 100_000  # chromadb's own HNSW build of 1M vectors does not fit the time budget
NAIVE_HTTP_MAX = 1_000_000


# corpus -------------------------------------------------------------------------------------


def dpg_titles() -> list[str]:
    if not DATA.is_file():
        sys.exit(f"real titles not found at {DATA}: the benchmark needs ../shared/data")
    with DATA.open(encoding="utf-8") as fh:
        return [json.loads(line)["title"] for line in fh if line.strip()]


def article_id(i: int) -> str:
    return f"a{i}"


def unit_vectors(start: int, stop: int, seed: int = 7) -> np.ndarray:
    """Rows start..stop of a fixed random corpus of unit vectors, generated in 50k blocks so
    any slice is reproducible without holding the whole matrix twice."""
    block = 50_000
    out = np.empty((stop - start, DIM), dtype=np.float32)
    for b in range(start // block, (stop - 1) // block + 1):
        rows = np.random.default_rng(seed + b).standard_normal((block, DIM), dtype=np.float32)
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
        lo, hi = max(start, b * block), min(stop, (b + 1) * block)
        out[lo - start : hi - start] = rows[lo - b * block : hi - b * block]
    return out


def build_catalog(n: int) -> Catalog:
    titles = dpg_titles()
    rng = np.random.default_rng(11)
    ages = rng.uniform(0, 30 * 86_400, n)
    catalog = Catalog()
    for i in range(n):
        aid = article_id(i)
        catalog.put(
            Card(
                id=aid,
                title=f"{titles[i % len(titles)]} ({i})",
                url=f"https://nieuws.example.nl/{SECTIONS[i % len(SECTIONS)]}/{aid}",
                section=SECTIONS[i % len(SECTIONS)],
                image=f"https://img.example.nl/{aid}.jpg",
                published_ts=NOW - float(ages[i]),
                published=True,
            )
        )
    return catalog


def synthetic_events(n: int, count: int = EVENTS) -> list[Event]:
    """Zipf-distributed clicks and views over a random permutation of the articles, spread over
    the last 48 hours, from 50k sessions."""
    rng = np.random.default_rng(5)
    ranks = (rng.zipf(1.2, count) - 1) % n
    articles = rng.permutation(n)[ranks]
    ts = np.sort(NOW - rng.uniform(0, 48 * 3600, count))
    sessions = rng.integers(0, 50_000, count)
    kinds = rng.random(count) < 0.3
    return [
        Event(float(t), "click" if c else "view", article_id(int(a)), f"s{int(s)}")
        for t, a, s, c in zip(ts, articles, sessions, kinds, strict=True)
    ]


def build_popularity(events: list[Event]) -> Popularity:
    popularity = Popularity(PopularityConfig())
    popularity.record_many(events)
    return popularity


def build_index(n: int, kind: str) -> VectorIndex:
    """The VectorIndex the service would serve; an HNSW build is cached under var/ (minutes),
    with its neighbour lists once keep_lists has computed them."""
    folder = CACHE / f"{kind}-{n}"
    if kind == "hnsw" and (folder / "manifest.json").is_file():
        index = VectorIndex.load(folder, MODEL, DIM, ef_search=SETTINGS.hnsw_ef_search)
        index.kind = kind
        lists = NeighbourLists.load(folder, int(index._index.ntotal), SETTINGS.neighbour_lists)
        if lists is not None:
            index.keep_neighbours(SETTINGS.neighbour_lists, lists)
        return index
    index = VectorIndex(
        DIM,
        MODEL,
        kind,
        hnsw_m=SETTINGS.hnsw_m,
        ef_search=SETTINGS.hnsw_ef_search,
        ef_construction=SETTINGS.hnsw_ef_construction,
    )
    step = 50_000
    for start in range(0, n, step):
        stop = min(n, start + step)
        ids = [article_id(i) for i in range(start, stop)]
        hashes = [hashlib.sha256(i.encode()).hexdigest() for i in ids]
        index.upsert(ids, unit_vectors(start, stop), hashes)
    if kind == "hnsw":
        index.save(folder)
    return index


# the three implementations --------------------------------------------------------------------


def keep_lists(index: VectorIndex, n: int) -> float:
    """Compute the index's neighbour lists as `recommender build` does (a batched search over
    every article); seconds taken. HNSW lists are cached with the graph, with their time."""
    folder = CACHE / f"{index.kind}-{n}"
    timing = folder / "neighbours-seconds.json"
    if index.neighbours is not None and timing.is_file():
        return float(json.loads(timing.read_text()))
    started = time.perf_counter()
    index.keep_neighbours(SETTINGS.neighbour_lists)
    seconds = time.perf_counter() - started
    if index.kind == "hnsw" and index.neighbours is not None:
        index.neighbours.save(folder, int(index._index.ntotal))
        timing.write_text(json.dumps(seconds))
    return seconds


def rss_bytes(pid: int | str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def faiss_bytes(index: VectorIndex) -> int:
    """Bytes of faiss's own structure: the float32 vectors plus, for HNSW, the graph."""
    import faiss

    raw: Any = index._index
    size = int(raw.ntotal) * int(raw.d) * 4
    if index.kind == "hnsw":
        hnsw: Any = faiss.downcast_index(raw)
        graph = hnsw.hnsw
        size += graph.neighbors.size() * 4 + graph.offsets.size() * 8 + graph.levels.size() * 4
    return size


class Parts:
    """Everything an implementation serves from, with the resident memory each part took."""

    def __init__(self, n: int, kind: str, with_index: bool) -> None:
        gc.collect()
        self.rss_start = rss_bytes()
        self.catalog = build_catalog(n)
        gc.collect()
        self.rss_catalog = rss_bytes() - self.rss_start
        before = rss_bytes()
        self.events = synthetic_events(n)
        self.popularity = build_popularity(self.events)
        gc.collect()
        self.rss_popularity = rss_bytes() - before
        before = rss_bytes()
        self.index = build_index(n, kind) if with_index else None
        gc.collect()
        self.rss_index = rss_bytes() - before
        self.faiss_bytes = faiss_bytes(self.index) if self.index is not None else 0
        # Lees ook reads its vector candidates from these lists (NEIGHBOUR_LISTS)
        self.lists_s = keep_lists(self.index, n) if self.index is not None else 0.0
        lists = self.index.neighbours if self.index is not None else None
        self.lists_bytes = lists.nbytes if lists is not None else 0
        # the lexical index (titles, Dutch analysis) and co-reads from the same events: Lees
        # ook ranks with every signal it serves
        before = rss_bytes()
        self.lexical = build_lexical(self.catalog) if with_index else None
        self.coreads = CoReads(CoReadConfig()) if with_index else None
        if self.coreads is not None:
            self.coreads.record_many(self.events)
        gc.collect()
        self.rss_signals = rss_bytes() - before
        self.n = n
        self.kind = kind


def build_lexical(catalog: Catalog) -> LexicalSearch:
    lexical = LexicalSearch()
    cards = [catalog.get(i) for i in catalog.published_ids()]
    lexical.upsert([Article(id=c.id, title=c.title, language="nl") for c in cards if c])
    return lexical


def service_app(
    parts: Parts, tmp: Path, cache: bool = True
) -> tuple[Any, Callable[[str], Any], Callable[[], Any]]:
    """The real app; cache=False turns the result cache off (every request ranks)."""
    from recommender.api import create_app
    from recommender.config import Settings
    from recommender.embedding import FakeEmbedder
    from recommender.service import RecommenderService

    assert parts.index is not None
    settings = Settings(
        _env_file=None,
        data_dir=tmp / "var",
        models_dir=tmp / "models",
        model_name="fake:384",
        result_cache_size=SETTINGS.result_cache_size if cache else 0,
    )
    svc = RecommenderService.from_parts(
        settings,
        embedder=FakeEmbedder(DIM),
        catalog=parts.catalog,
        index=parts.index,
        popularity=parts.popularity,
        lexical=parts.lexical,
        coreads=parts.coreads,
    )
    app = create_app(settings, service=svc)
    return app, lambda aid: svc.related(aid, 4), lambda: svc.popular(6)


def _baseline_app(
    related: Callable[[str, int], list[tuple[Card, float]]],
    popular: Callable[[int], list[tuple[Card, float]]],
) -> Any:
    """The same FastAPI stack and response model as the service, over a baseline's lookups."""
    from fastapi import FastAPI

    from recommender.api import ItemOut, RecommendationOut

    def out(hits: list[tuple[Card, float]], kind: str) -> RecommendationOut:
        items = [
            ItemOut(
                id=c.id,
                url=c.url,
                title=c.title,
                section=c.section,
                image=c.image,
                published_at=datetime.fromtimestamp(c.published_ts, UTC)
                if c.published_ts
                else None,
                score=round(s, 6),
            )
            for c, s in hits
        ]
        return RecommendationOut(
            recommendation_id=os.urandom(16).hex(), kind=kind, fallback=False, items=items
        )

    app = FastAPI()

    @app.get("/v1/articles/{aid}/related", response_model=RecommendationOut)
    async def related_route(aid: str, k: int = 4) -> RecommendationOut:
        return out(related(aid, k), "related")

    @app.get("/v1/popular", response_model=RecommendationOut)
    async def popular_route(k: int = 6) -> RecommendationOut:
        return out(popular(k), "popular")

    @app.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    return app


def click_counts(parts: Parts) -> dict[str, int]:
    clicks: dict[str, int] = {}
    for e in parts.events:
        clicks[e.article_id] = clicks.get(e.article_id, 0) + 1
    return clicks


def naive_app(parts: Parts, tmp: Path) -> tuple[Any, Callable[[str], Any], Callable[[], Any]]:
    n = parts.n
    vectors = unit_vectors(0, n)
    row = {article_id(i): i for i in range(n)}
    ids = [article_id(i) for i in range(n)]
    clicks = click_counts(parts)
    catalog = parts.catalog

    def related(aid: str, k: int) -> list[tuple[Card, float]]:
        sims = vectors @ vectors[row[aid]]  # cosine: the vectors are unit length
        order = np.argsort(-sims)[: k + 1]
        hits = [(ids[i], float(sims[i])) for i in order if ids[i] != aid][:k]
        return [(c, s) for i, s in hits if (c := catalog.get(i)) is not None]

    def popular(k: int) -> list[tuple[Card, float]]:
        top = sorted(clicks.items(), key=lambda kv: -kv[1])[:k]
        return [(c, float(s)) for i, s in top if (c := catalog.get(i)) is not None]

    return _baseline_app(related, popular), lambda a: related(a, 4), lambda: popular(6)


def chroma_app(parts: Parts, tmp: Path) -> tuple[Any, Callable[[str], Any], Callable[[], Any]]:
    import chromadb

    client = chromadb.PersistentClient(path=str(tmp / "chroma"))
    col = client.create_collection("articles", metadata={"hnsw:space": "cosine"})
    step = 5_000
    for start in range(0, parts.n, step):
        stop = min(parts.n, start + step)
        col.add(
            ids=[article_id(i) for i in range(start, stop)],
            embeddings=unit_vectors(start, stop),
        )
    clicks = click_counts(parts)
    catalog = parts.catalog

    def related(aid: str, k: int) -> list[tuple[Card, float]]:
        got = col.get(ids=[aid], include=["embeddings"])
        res = col.query(query_embeddings=got["embeddings"], n_results=k + 1)
        pairs = zip(res["ids"][0], res["distances"][0], strict=True)
        hits = [(i, 1.0 - d) for i, d in pairs if i != aid][:k]
        return [(c, s) for i, s in hits if (c := catalog.get(i)) is not None]

    def popular(k: int) -> list[tuple[Card, float]]:
        top = sorted(clicks.items(), key=lambda kv: -kv[1])[:k]
        return [(c, float(s)) for i, s in top if (c := catalog.get(i)) is not None]

    return _baseline_app(related, popular), lambda a: related(a, 4), lambda: popular(6)


def uncached_app(parts: Parts, tmp: Path) -> tuple[Any, Callable[[str], Any], Callable[[], Any]]:
    return service_app(parts, tmp, cache=False)


IMPLS = {
    "service": service_app,
    "service-nocache": uncached_app,
    "naive": naive_app,
    "chroma": chroma_app,
}
SERVICES = ("service", "service-nocache")
TIMED_AS = {"related-skewed": "related"}  # endpoints Timing counts under another route's name


# server side ----------------------------------------------------------------------------------


class Timing:
    """Outermost ASGI middleware: wall time per request inside the server, by endpoint."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.samples: dict[str, list[float]] = {}

    @staticmethod
    def endpoint(path: str, query: bytes) -> str:
        if path.endswith("/related"):
            return "related"
        if path.startswith("/v1/popular"):
            return "popular+context" if b"context=" in query else "popular"
        return "health" if path == "/health/live" else "other"

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == "/_bench/timings":
            await self.report(scope, send)
            return
        started = time.perf_counter()
        await self.app(scope, receive, send)
        name = self.endpoint(scope["path"], scope.get("query_string", b""))
        self.samples.setdefault(name, []).append(time.perf_counter() - started)

    async def report(self, scope: Any, send: Any) -> None:
        body = json.dumps({k: summarise(v) for k, v in self.samples.items()}).encode()
        if b"reset" in scope.get("query_string", b""):
            self.samples = {}
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def summarise(seconds: list[float]) -> dict[str, float]:
    if not seconds:
        return {"count": 0, "p50_ms": math.nan, "p99_ms": math.nan}
    ms = np.asarray(seconds) * 1000
    return {
        "count": len(ms),
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "mean_ms": float(ms.mean()),
    }


def in_process(
    related: Callable[[str], Any], popular: Callable[[], Any], n: int, budget: float
) -> dict[str, dict[str, float]]:
    """Latency of the ranking calls alone (no HTTP), on random ids, each bounded by budget s."""
    rng = np.random.default_rng(3)
    out = {}
    calls: dict[str, Callable[[int], Any]] = {
        "related": lambda i: related(article_id(i)),
        "popular": lambda i: popular(),
    }
    for name, call in calls.items():
        for i in rng.integers(0, n, 20):  # warm-up
            call(int(i))
        samples: list[float] = []
        cpu: list[float] = []
        deadline = time.perf_counter() + budget
        for i in rng.integers(0, n, 3000):
            started, started_cpu = time.perf_counter(), time.thread_time()
            call(int(i))
            cpu.append(time.thread_time() - started_cpu)
            samples.append(time.perf_counter() - started)
            if started > deadline:
                break
        out[name] = summarise(samples)
        # CPU time of this thread: on a shared, loaded machine wall time mostly measures the
        # wait for a core (p50 swung 2-9x between runs), CPU time what a call itself costs
        out[name]["cpu_p50_ms"] = summarise(cpu)["p50_ms"]
    return out


def serve(args: argparse.Namespace) -> None:
    import uvicorn

    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    parts = Parts(args.n, args.kind, with_index=args.impl in SERVICES)
    app, related, popular = IMPLS[args.impl](parts, tmp)
    if args.impl in SERVICES:
        # what the app's start-up does (SERVE_BLAS_THREADS), here before the in-process
        # calls too; the baselines keep numpy's default, as a user's own server would
        limit_blas_threads(SETTINGS.serve_blas_threads)
    gc.collect()
    result: dict[str, Any] = {
        "impl": args.impl,
        "n": args.n,
        "kind": args.kind
        if args.impl in SERVICES
        else ("hnsw" if args.impl == "chroma" else "numpy"),
        "setup_s": round(time.perf_counter() - started, 1),
        "rss": rss_bytes(),
        "rss_start": parts.rss_start,
        "rss_catalog": parts.rss_catalog,
        "rss_popularity": parts.rss_popularity,
        "rss_index": parts.rss_index,
        "faiss_bytes": parts.faiss_bytes,
        "lists_s": round(parts.lists_s, 1),
        "lists_bytes": parts.lists_bytes,
    }
    del parts.events
    result["in_process"] = in_process(related, popular, args.n, args.inproc_budget)
    if parts.index is not None:
        index = parts.index
        search = in_process(
            lambda aid: index.search_rows(index.vector(aid), SETTINGS.candidates + 1),  # type: ignore[arg-type]
            lambda: None,
            args.n,
            args.inproc_budget,
        )
        result["in_process"]["search"] = search["related"]
        listed = in_process(
            lambda aid: index.search_article(aid, SETTINGS.candidates + 1),
            lambda: None,
            args.n,
            args.inproc_budget,
        )
        result["in_process"]["lists"] = listed["related"]
    Path(args.result).write_text(json.dumps(result))
    config = uvicorn.Config(
        Timing(app), host="127.0.0.1", port=args.port, log_level="warning", access_log=False
    )
    try:
        uvicorn.Server(config).run()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# load generation ------------------------------------------------------------------------------


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk not found: installing it with apt-get (Debian package 'wrk')")
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, capture_output=True)
    found = shutil.which("wrk")
    if not found:
        subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, capture_output=True)
        found = shutil.which("wrk")
    if not found:
        sys.exit("could not install wrk")
    return found


LUA = {
    "related": """
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/v1/articles/a" .. math.random(0, {n} - 1) .. "/related?k=4")
end
""",
    # news-shaped traffic: P(rank r) ~ 1/r (log-uniform ranks; the catalogue's ids are in random
    # order of popularity, so nothing but the skew is assumed)
    "related-skewed": """
math.randomseed(os.time())
request = function()
  local id = math.floor({n} ^ math.random()) - 1
  return wrk.format("GET", "/v1/articles/a" .. id .. "/related?k=4")
end
""",
    "popular": """
request = function()
  return wrk.format("GET", "/v1/popular?k=6")
end
""",
    "health": """
request = function()
  return wrk.format("GET", "/health/live")
end
""",
    "popular+context": """
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/v1/popular?k=6&context=a" .. math.random(0, {n} - 1))
end
""",
}


def parse_wrk(text: str) -> dict[str, float]:
    def ms(value: str) -> float:
        number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
        return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]

    out: dict[str, float] = {}
    if m := re.search(r"Requests/sec:\s+([\d.]+)", text):
        out["rps"] = float(m.group(1))
    for pct in ("50", "99"):
        if m := re.search(rf"^\s+{pct}(?:\.000)?%\s+(\S+)", text, re.M):
            out[f"p{pct}_ms"] = ms(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    out["errors"] = float(m.group(1)) if m else 0.0
    return out


def cache_counts(base: str) -> tuple[float, float] | None:
    """(hits, misses) of the service's result cache from /metrics; None without one."""
    try:
        with urllib.request.urlopen(f"{base}/metrics", timeout=10) as resp:
            text = resp.read().decode()
    except OSError:
        return None
    found = dict(re.findall(r"^recommender_result_cache_(hits|misses)_total (\S+)$", text, re.M))
    if len(found) != 2:
        return None
    return float(found["hits"]), float(found["misses"])


def hit_ratio(before: tuple[float, float] | None, after: tuple[float, float] | None) -> float:
    """Share of list lookups answered from the cache between two readings (NaN: no cache)."""
    if before is None or after is None:
        return math.nan
    hits, misses = after[0] - before[0], after[1] - before[1]
    return hits / (hits + misses) if hits + misses else math.nan


def serialisers(repeat: int = 20_000) -> dict[str, float]:
    """Microseconds to serialise one /related body (4 items) with each candidate library."""
    import json as stdlib_json
    import timeit

    import orjson

    from recommender.api import ItemOut, RecommendationOut

    published = datetime(2025, 10, 6, 9, 28, tzinfo=UTC)
    items = [
        {
            "id": f"a{i}",
            "url": f"https://nieuws.example.nl/binnenland/a{i}",
            "title": "Kabinet presenteert plannen voor woningbouw in de regio (12345)",
            "section": "binnenland",
            "image": f"https://img.example.nl/a{i}.jpg",
            "published_at": published,
            "score": 0.812345,
            "reasons": None,
        }
        for i in range(4)
    ]
    body = {"recommendation_id": "0" * 32, "kind": "related", "fallback": False, "items": items}
    model = RecommendationOut(
        recommendation_id="0" * 32,
        kind="related",
        fallback=False,
        items=[ItemOut(**item) for item in items],
    )
    calls: dict[str, Callable[[], bytes]] = {
        "json (stdlib)": lambda: stdlib_json.dumps(body, default=str).encode(),
        "pydantic model_dump_json": lambda: model.model_dump_json().encode(),
        "orjson (adopted)": lambda: orjson.dumps(body, option=orjson.OPT_UTC_Z),
    }
    try:
        import msgspec

        calls["msgspec"] = lambda: msgspec.json.encode(body)
    except ImportError:
        pass
    return {
        name: min(timeit.repeat(call, number=repeat, repeat=5)) / repeat * 1e6
        for name, call in calls.items()
    }


def wait_ready(proc: subprocess.Popen[bytes], port: int, result: Path, timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        if result.is_file():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live", timeout=2):
                    return
            except OSError:
                pass
        time.sleep(0.5)
    raise TimeoutError("server did not start in time")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fetch(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.loads(resp.read())


def progress(label: str, measured: dict[str, Any], connections: int) -> None:
    client, server = measured["client"], measured["server"]
    print(
        f"{label}: {client.get('rps', 0):,.0f} req/s, server p50 "
        f"{server.get('p50_ms', math.nan):.2f} ms p99 {server.get('p99_ms', math.nan):.2f}"
        f" ms (1 connection), client p99 {client.get('p99_ms', math.nan):.1f} ms "
        f"({connections} connections)",
        flush=True,
    )


def run_impl(
    impl: str, n: int, kind: str, args: argparse.Namespace, wrk: str, endpoints: list[str]
) -> dict[str, Any]:
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="bench-run-"))
    result_file = workdir / "result.json"
    cmd = [
        sys.executable, __file__, "serve", "--impl", impl, "--n", str(n), "--kind", kind,
        "--port", str(port), "--result", str(result_file),
        "--inproc-budget", str(args.inproc_budget),
    ]  # fmt: skip
    print(f"[{impl} {n:,}] starting server", flush=True)
    proc = subprocess.Popen(cmd, cwd=ROOT)
    try:
        wait_ready(proc, port, result_file, timeout=3600)
        result: dict[str, Any] = json.loads(result_file.read_text())
        result["http"] = {}
        base = f"http://127.0.0.1:{port}"
        for endpoint in endpoints:
            script = workdir / f"{endpoint}.lua"
            script.write_text(LUA[endpoint].replace("{n}", str(n)))
            wrk_cmd = [wrk, "-t1", "--latency", "--timeout", "10s", "-s", str(script)]
            load = [*wrk_cmd, f"-c{args.connections}"]
            cache_before = cache_counts(base)
            subprocess.run([*load, "-d2s", base], check=True, capture_output=True)  # warm-up
            # latency: one connection, so the server timing is service time, not queueing
            fetch(f"{base}/_bench/timings?reset=1")
            out = subprocess.run(
                [*wrk_cmd, "-c1", f"-d{max(2, args.duration // 2)}s", base],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            single = parse_wrk(out)
            timed = TIMED_AS.get(endpoint, endpoint)  # Timing's name for the route
            server = fetch(f"{base}/_bench/timings?reset=1").get(timed, {})
            # throughput: the server saturated by 16 connections
            out = subprocess.run(
                [*load, f"-d{args.duration}s", base], check=True, capture_output=True, text=True
            ).stdout
            client = parse_wrk(out)
            loaded = fetch(f"{base}/_bench/timings?reset=1").get(timed, {})
            result["http"][endpoint] = {
                "client": client,
                "single": single,
                "server": server,
                "server_loaded": loaded,
                "hit_ratio": hit_ratio(cache_before, cache_counts(base)),
            }
            progress(f"[{impl} {n:,}] {endpoint}", result["http"][endpoint], args.connections)
        result["rss_serving"] = rss_bytes(proc.pid)
        return result
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(workdir, ignore_errors=True)


# report ---------------------------------------------------------------------------------------


def machine() -> str:
    mem = int(Path("/proc/meminfo").read_text().split()[1]) / 1024**2
    import faiss

    return (
        f"{cpu_description()}, {mem:.0f} GiB RAM, numpy {np.__version__}, faiss {faiss.__version__}"
    )


def fmt(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.{digits}f}"


def render(results: list[dict[str, Any]], args: argparse.Namespace, command: str) -> str:
    lines = [
        "## Serving latency and throughput (`scripts/bench_serving.py`)",
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {machine()}",
        # other work on the machine skews every figure; ratios within one run stay comparable
        "- Load average (1, 5, 15 min) when the report was written: "
        + ", ".join(f"{x:.1f}" for x in os.getloadavg()),
        f"- Command: `{command}`",
        f"- Load: wrk -t1, {args.duration // 2} s at 1 connection and {args.duration} s at "
        f"{args.connections} connections per row after a 2 s warm-up, "
        "random article ids; server = uvicorn, one process, loopback. wrk and the server share "
        "the 2 cores, so req/s is a lower bound for the server alone.",
        "- Latency columns: a 1-connection run (no queueing), server p50/p99 measured inside "
        "the server by an outermost ASGI middleware (whole app: routing, validation, ranking, "
        "JSON), client p50/p99 by wrk over loopback. Throughput: a 16-connection run right "
        "after it; its client p99 includes queueing behind 15 other requests.",
        "- naive = numpy brute-force cosine over all vectors + sort by clicks; chroma = chromadb "
        f"{_chroma_version()} with precomputed embeddings (HNSW, cosine), clicks sorted in "
        "Python; both behind the same FastAPI app and response model.",
        "",
        "- service = the real app with its default result cache; service-nocache = the same "
        "with `RECOMMENDER_RESULT_CACHE_SIZE=0` (every request ranks). Article ids are uniform "
        "over the corpus, so the cache hits only ids asked before in the same run (the hit "
        "column); real news traffic is far more skewed. /related-skewed asks the same route "
        "with news-shaped ids (P(rank r) ∝ 1/r over the corpus): not a target, what a site's "
        "traffic sees.",
        "",
        *acceptance(results),
        "",
        "### HTTP",
        "",
        "| articles | impl | index | endpoint | server p50 ms | server p99 ms | client p50 ms"
        " | client p99 ms | req/s (16 conn.) | client p99 ms (16 conn.) | req/s vs naive "
        "| req/s vs /health/live | cache hits |",
        "|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += http_rows(results)
    lines += inprocess_table(results)
    lines += memory_table(results)
    lines += ["", "### Serialising one /related body (4 items)", ""]
    lines += ["| library | µs per body |", "|---|---:|"]
    lines += [f"| {name} | {us:.2f} |" for name, us in serialisers().items()]
    lines.append("")
    lines.append(
        '≤ 1.00 in the last column meets the target "memory ≤ 1.3 × raw float32 vector bytes '
        'plus metadata"; the id maps, catalogue and popularity columns are that metadata.'
    )
    return "\n".join(lines)


def http_rows(results: list[dict[str, Any]]) -> list[str]:
    """The rows of the HTTP table, one per server and endpoint."""
    lines: list[str] = []
    naive = {
        (r["n"], e): v["client"].get("rps")
        for r in results
        if r["impl"] == "naive"
        for e, v in r["http"].items()
    }
    for r in results:
        live = r["http"].get("health", {}).get("client", {}).get("rps")
        for endpoint, v in r["http"].items():
            rps = v["client"].get("rps")
            base = naive.get((r["n"], endpoint))
            ratio = f"{rps / base:.1f}×" if rps and base else "–"
            to_live = f"{rps / live:.2f}×" if rps and live else "–"
            hits = v.get("hit_ratio", math.nan)
            hit_text = "–" if math.isnan(hits) else f"{100 * hits:.0f}%"
            lines.append(
                f"| {r['n']:,} | {r['impl']} | {r['kind']} | /{endpoint} "
                f"| {fmt(v['server'].get('p50_ms'))} | {fmt(v['server'].get('p99_ms'))} "
                f"| {fmt(v['single'].get('p50_ms'))} | {fmt(v['single'].get('p99_ms'))} "
                f"| {fmt(rps, 0)} | {fmt(v['client'].get('p99_ms'), 1)} | {ratio} "
                f"| {to_live} | {hit_text} |"
            )
    return lines


def inprocess_table(results: list[dict[str, Any]]) -> list[str]:
    """The in-process table: ranking calls without HTTP."""
    lines: list[str] = []
    lines += [
        "",
        "### In-process ranking calls (no HTTP)",
        "",
        "Random article ids; service = through the result cache (a hit only for an id asked "
        "before), service-nocache = the vectorised ranking on every call; search = the "
        "vector-index search alone; lists = the same candidates read from the precomputed "
        "neighbour lists, which is what Lees ook does now. CPU: the calling thread's CPU time "
        "(time.thread_time), which a busy machine inflates far less than wall time.",
        "",
        "| articles | impl | related p50 ms | related p99 ms | related CPU p50 ms "
        "| popular p50 ms | popular p99 ms | related p50 vs naive | related CPU vs naive "
        "| search p50 ms | lists p50 ms |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    naive = {r["n"]: r["in_process"]["related"] for r in results if r["impl"] == "naive"}

    def versus(r: dict[str, Any], key: str) -> str:
        base, own = naive.get(r["n"], {}).get(key), r["in_process"]["related"].get(key)
        if r["impl"] == "naive":
            return "1×"
        return f"{base / own:.1f}×" if base and own else "–"

    for r in results:
        ip = r["in_process"]
        related = ip["related"]
        search = ip.get("search", {}).get("p50_ms")
        listed = ip.get("lists", {}).get("p50_ms")
        lines.append(
            f"| {r['n']:,} | {r['impl']} | {fmt(related['p50_ms'], 3)} "
            f"| {fmt(related['p99_ms'], 3)} | {fmt(related.get('cpu_p50_ms'), 3)} "
            f"| {fmt(ip['popular']['p50_ms'], 3)} | {fmt(ip['popular']['p99_ms'], 3)} "
            f"| {versus(r, 'p50_ms')} | {versus(r, 'cpu_p50_ms')} | {fmt(search, 3)} "
            f"| {fmt(listed, 3)} |"
        )
    return lines


def memory_table(results: list[dict[str, Any]]) -> list[str]:
    """The memory table of the service process."""
    lines: list[str] = []
    lines += [
        "",
        "### Memory of the service process",
        "",
        "Raw vectors = articles × 384 × 4 bytes; faiss = its own structure (vectors + HNSW "
        "graph), counted from the index. Id maps = the rest of the index's resident growth "
        "(row ↔ article id lists and dict, content hashes). Catalogue (cards, url map) and "
        "popularity (counters, session de-duplication) = resident growth while building them. "
        "Process base = interpreter and libraries before any data. Metadata = id maps + "
        "catalogue + popularity + process base. Neighbour lists = the precomputed top-"
        f"{SETTINGS.neighbour_lists} vector neighbours per article (int32 row + float32 "
        "cosine each), with the seconds their batched computation took.",
        "",
        "| articles | index | raw vectors MB | faiss MB | faiss / raw | id maps MB "
        "| catalogue MB | popularity MB | process base MB | neighbour lists MB (bytes/article) "
        "| lists computed in s | RSS serving MB | RSS / (1.3 × raw + metadata) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    mb = 1024**2
    for r in results:
        if r["impl"] != "service":
            continue
        raw = r["n"] * DIM * 4
        faiss_size = r.get("faiss_bytes", 0)
        id_maps = max(0, r["rss_index"] - faiss_size)
        meta = id_maps + r["rss_catalog"] + r["rss_popularity"] + r["rss_start"]
        meta += r.get("lists_bytes", 0)
        lines.append(
            f"| {r['n']:,} | {r['kind']} | {raw / mb:,.0f} | {faiss_size / mb:,.0f} "
            f"| {faiss_size / raw:.2f} | {id_maps / mb:,.0f} | {r['rss_catalog'] / mb:,.0f} "
            f"| {r['rss_popularity'] / mb:,.0f} | {r['rss_start'] / mb:,.0f} "
            f"| {r.get('lists_bytes', 0) / mb:,.0f} ({r.get('lists_bytes', 0) / r['n']:,.0f}) "
            f"| {fmt(r.get('lists_s'), 1)} | {r['rss_serving'] / mb:,.0f} "
            f"| {r['rss_serving'] / (1.3 * raw + meta):.2f} |"
        )
    return lines


def acceptance(results: list[dict[str, Any]]) -> list[str]:
    """The issue's targets, each against its baseline from this same run."""
    lines = ["### Targets", "", "| target | articles | measured | met |", "|---|---:|---|---|"]
    by = {(r["impl"], r["n"]): r for r in results}
    limits = {10_000: 0.25}
    for (impl, n), r in sorted(by.items(), key=lambda kv: kv[0][1]):
        naive = by.get(("naive", n))
        if impl == "service-nocache":
            p50 = r["in_process"]["related"]["p50_ms"]
            limit = limits.get(n, 0.5)
            base = naive["in_process"]["related"]["p50_ms"] if naive else math.nan
            met = p50 <= limit and p50 < base
            lines.append(
                f"| in-process Lees ook p50 ≤ {limit} ms and < naive ({fmt(base, 3)} ms) "
                f"| {n:,} | {fmt(p50, 3)} ms | {'yes' if met else 'no'} |"
            )
        if impl in SERVICES:
            http = r["http"]
            live = http.get("health", {}).get("client", {}).get("rps")
            rps = http.get("related", {}).get("client", {}).get("rps")
            want = 0.6 if impl == "service" else 0.3
            if live and rps:
                lines.append(
                    f"| /related ≥ {want}× /health/live req/s, 16 conn. ({impl}) | {n:,} "
                    f"| {rps / live:.2f}× ({rps:,.0f} / {live:,.0f}) "
                    f"| {'yes' if rps / live >= want else 'no'} |"
                )
            p99 = http.get("related", {}).get("server", {}).get("p99_ms")
            if n == 100_000 and p99 is not None:
                lines.append(
                    f"| server p99 ≤ 2 ms, 1 conn. ({impl}) | {n:,} | {fmt(p99)} ms "
                    f"| {'yes' if p99 <= 2 else 'no'} |"
                )
    return lines


def _chroma_version() -> str:
    try:
        import chromadb

        return str(chromadb.__version__)
    except ImportError:
        return "(not installed)"


def ensure_chroma() -> bool:
    try:
        import chromadb  # noqa: F401

        return True
    except ImportError:
        print("chromadb not installed: installing it into this environment (pip install chromadb)")
        done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "chromadb"])
        return done.returncode == 0


def profile(args: argparse.Namespace) -> None:
    """Where the time goes: pyinstrument over in-process ranking calls, then py-spy over the
    HTTP server under wrk load (/related, 16 connections). Prints both, writes nothing."""
    from pyinstrument import Profiler

    n = SIZES.get(args.size, 0) or int(args.size)
    kind = choose_kind(SETTINGS.index_type, n, SETTINGS.hnsw_threshold)
    tmp = Path(tempfile.mkdtemp(prefix="bench-profile-"))
    parts = Parts(n, kind, with_index=True)
    _, related, popular = service_app(parts, tmp)
    ids = np.random.default_rng(1).integers(0, n, 600)
    for i in ids[:50]:
        related(article_id(int(i)))
        popular()
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for i in ids:
        related(article_id(int(i)))
        popular()
    profiler.stop()
    print(profiler.output_text(unicode=False, color=False))
    shutil.rmtree(tmp, ignore_errors=True)
    del parts

    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    port = free_port()
    work = Path(tempfile.mkdtemp(prefix="bench-profile-"))
    cmd = [
        sys.executable, __file__, "serve", "--impl", "service", "--n", str(n), "--kind", kind,
        "--port", str(port), "--result", str(work / "r.json"), "--inproc-budget", "0.2",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT)
    try:
        wait_ready(proc, port, work / "r.json", timeout=3600)
        script = work / "related.lua"
        script.write_text(LUA["related"].replace("{n}", str(n)))
        load = subprocess.Popen(
            [ensure_wrk(), "-t1", "-c16", "-d12s", "-s", str(script), f"http://127.0.0.1:{port}"],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(1)
        raw = work / "spy.txt"
        subprocess.run(
            [spy, "record", "-p", str(proc.pid), "-d", "8", "-r", "200", "-f", "raw",
             "-o", str(raw), "--nonblocking"],
            check=True, capture_output=True,
        )  # fmt: skip
        print(load.communicate()[0])
        own: dict[str, int] = {}
        total = 0
        for line in raw.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            total += int(count)
            frame = stack.split(";")[-1]
            own[frame] = own.get(frame, 0) + int(count)
        print(f"py-spy: {total} samples of the server under load; top frames by own time:")
        for frame, samples in sorted(own.items(), key=lambda kv: -kv[1])[:25]:
            print(f"{100 * samples / max(total, 1):5.1f}%  {frame[:140]}")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd")
    srv = sub.add_parser("serve", help="internal: one benchmark server")
    srv.add_argument("--impl", choices=list(IMPLS), required=True)
    srv.add_argument("--n", type=int, required=True)
    srv.add_argument("--kind", default="flat")
    srv.add_argument("--port", type=int, required=True)
    srv.add_argument("--result", required=True)
    srv.add_argument("--inproc-budget", type=float, default=5.0)
    prf = sub.add_parser("profile", help="pyinstrument + py-spy profile of the service")
    prf.add_argument("--size", default="100k")
    parser.add_argument("--sizes", default="10k,100k,1M", help="comma-separated: 10k,100k,1M")
    parser.add_argument("--impls", default="service,service-nocache,naive,chroma")
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per row")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--inproc-budget", type=float, default=5.0)
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--no-write", action="store_true", help="print, leave BENCHMARKS.md")
    args = parser.parse_args()
    if args.cmd == "serve":
        serve(args)
        return
    if args.cmd == "profile":
        profile(args)
        return
    wrk = ensure_wrk()
    impls = args.impls.split(",")
    if "chroma" in impls and not ensure_chroma():
        impls.remove("chroma")
    results = []
    for size in args.sizes.split(","):
        n = SIZES[size] if size in SIZES else int(size)
        kind = choose_kind(SETTINGS.index_type, n, SETTINGS.hnsw_threshold)
        for impl in impls:
            if impl == "chroma" and n > CHROMA_MAX:
                print(f"[chroma {n:,}] skipped: building chromadb's index takes too long")
                continue
            endpoints = ["related", "popular", "health"]
            if impl in SERVICES:
                endpoints[1:1] = ["related-skewed"]
                endpoints.insert(3, "popular+context")
            results.append(run_impl(impl, n, kind, args, wrk, endpoints))
    command = "python scripts/bench_serving.py " + " ".join(sys.argv[1:])
    report = render(results, args, command.strip())
    print(report)
    if not args.no_write:
        write_section(args.out, MARK, report)
        print(f"wrote the {MARK} section of {args.out}")


if __name__ == "__main__":
    main()
