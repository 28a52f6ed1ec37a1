"""Propagation benchmark: how late an article written on one replica reaches the other, over two
real `recommender serve` processes sharing PostgreSQL and Redis (the change feed).

    .venv/bin/python scripts/bench_propagation.py                 # ~1 minute, writes BENCHMARKS.md
    .venv/bin/python scripts/bench_propagation.py --publishes 20 --no-load --no-write

Each round publishes an anchor story on A, then a fresh story sharing most of its words, and times
from A's answer until B lists the fresh story in the anchor's Lees ook (B has its vector and its
card); then unpublishes it on B (DELETE) and times until A no longer lists it. Meanwhile wrk
keeps both replicas busy with /related reads (unless --no-load), as a news site's traffic would.
--articles 0: the first publish is the first article the replicas see (start-up costs show).
Issue 13's target: every replica within 1 s.
Needs PostgreSQL and Redis on 127.0.0.1 (scripts/start_services.sh); uses a schema and a key
prefix of its own and removes both. The fake embedder: the model is not what is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from bench_backends import ADMIN_URL, REDIS_URL, TOKEN, corpus, delete_keys, post, start  # noqa: E402
from bench_report import write_section  # noqa: E402
from bench_serving import ensure_wrk  # noqa: E402

MARK = "bench_propagation"
GIVE_UP = 10.0  # seconds: a propagation this late counts as lost, and the run says so


def request(method: str, url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
    call = urllib.request.Request(url, data, headers, method=method)
    with urllib.request.urlopen(call, timeout=10) as answer:
        return dict(json.loads(answer.read() or b"{}"))


def related(base: str, article_id: str) -> list[str] | None:
    """The replica's Lees ook for the article; None when it is the popular fallback (the
    replica does not have the article in its index)."""
    try:
        answer = request("GET", f"{base}/v1/articles/{article_id}/related?k=4")
    except urllib.error.HTTPError:
        return None
    return None if answer["fallback"] else [item["id"] for item in answer["items"]]


def shows(base: str, anchor: str, article_id: str) -> bool:
    """True when the replica lists the article in the anchor's Lees ook (index and card)."""
    return article_id in (related(base, anchor) or [])


def until(check: Callable[[], bool]) -> float:
    """Seconds until check holds (polled every 5 ms); GIVE_UP when it never does."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > GIVE_UP:
            return GIVE_UP
        time.sleep(0.005)
    return time.monotonic() - started


def load_with_wrk(
    bases: list[str], n: int, seconds: int, folder: Path
) -> list[subprocess.Popen[bytes]]:
    """wrk reading /related of the background articles on every replica, 4 connections each."""
    script = folder / "related.lua"
    script.write_text(
        'math.randomseed(os.time())\nrequest = function()\n  return wrk.format("GET", '
        f'"/v1/articles/a" .. math.random(0, {n - 1}) .. "/related?k=4")\nend\n'
    )
    wrk = ensure_wrk()
    return [
        subprocess.Popen(
            [wrk, "-t1", "-c4", f"-d{seconds}s", "-s", str(script), base],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for base in bases
    ]


def story(article_id: str, words: list[str]) -> dict[str, Any]:
    # titles apart: two stories alike in title and text would be filtered as copies
    return {"id": article_id, "title": " ".join(words[-3:]), "text": " ".join(words)}


def rounds(a: str, b: str, publishes: int) -> dict[str, list[float]]:
    """Per round an anchor story, then a fresh one sharing most of its words: the fresh story is
    the anchor's first Lees ook once a replica has it (its vector and its card)."""
    anchored: list[float] = []
    published: list[float] = []
    unpublished: list[float] = []
    for i in range(publishes):
        anchor, fresh = f"anchor-{i}", f"fresh-{i}"
        # 8 of 10 words shared: with the fake embedder's hashed words the two stories are each
        # other's nearest by far (3 shared words lost to chance collisions now and then)
        fruit = ("kiwi", "mango", "papaja", "ananas", "meloen", "perzik", "pruim", "vijg")
        shared = [f"{word}{i}" for word in fruit]
        request(
            "PUT", f"{a}/v1/articles/{anchor}", story(anchor, [*shared, f"appel{i}", f"peer{i}"])
        )
        anchored.append(until(lambda: related(b, anchor) is not None))  # noqa: B023 (at once)
        time.sleep(0.1)  # rounds apart: each one starts with the feed idle
        request(
            "PUT", f"{a}/v1/articles/{fresh}", story(fresh, [*shared, f"citroen{i}", f"limoen{i}"])
        )
        published.append(until(lambda: shows(b, anchor, fresh)))  # noqa: B023
        request("DELETE", f"{b}/v1/articles/{fresh}")
        unpublished.append(until(lambda: not shows(a, anchor, fresh)))  # noqa: B023
    return {
        "anchor on A → ranked on B (its own Lees ook)": anchored,
        "publish on A → listed on B": published,
        "unpublish on B → gone from A": unpublished,
    }


def summary(name: str, seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    late = sum(s >= 1.0 for s in seconds)
    return (
        f"| {name} | {len(ms)} | {statistics.median(ms):.0f} | {ms[int(0.9 * (len(ms) - 1))]:.0f}"
        f" | {ms[-1]:.0f} | {late} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--publishes", type=int, default=50)
    parser.add_argument(
        "--articles",
        type=int,
        default=2_000,
        help="background corpus; 0: the first publish is the first article the replicas see",
    )
    parser.add_argument("--no-load", action="store_true", help="no wrk readers meanwhile")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    # stopped from outside: still stop the servers and drop the schema and keys (finally)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    schema, prefix = f"bench_{uuid.uuid4().hex[:10]}", f"bench-{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    servers: list[subprocess.Popen[bytes]] = []
    readers: list[subprocess.Popen[bytes]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-propagation-") as folder:
            env = {
                "RECOMMENDER_MODEL_NAME": "fake",
                "RECOMMENDER_API_TOKEN": TOKEN,
                "RECOMMENDER_DATABASE_URL": f"{ADMIN_URL}?options=-csearch_path%3D{schema}",
                "RECOMMENDER_REDIS_URL": REDIS_URL,
                "RECOMMENDER_REDIS_PREFIX": prefix,
                "RECOMMENDER_MODELS_DIR": str(Path(folder) / "models"),
            }
            bases = []
            for name in ("a", "b"):
                data = {**env, "RECOMMENDER_DATA_DIR": str(Path(folder) / name)}
                process, base = start(data, 1)
                servers.append(process)
                bases.append(base)
            a, b = bases
            articles = corpus(args.articles)
            for i in range(0, len(articles), 1_000):
                post(a + "/v1/articles", {"articles": articles[i : i + 1_000]}, token=True)
            if articles:
                until(lambda: related(b, f"a{args.articles - 1}") is not None)
            load_average = os.getloadavg()[0]
            if articles and not args.no_load:
                readers = load_with_wrk(bases, args.articles, 3600, Path(folder))
                time.sleep(2)
            timings = rounds(a, b, args.publishes)
            load_average = max(load_average, os.getloadavg()[0])
    finally:
        for process in readers + servers:
            process.terminate()
            process.wait(timeout=30)
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
        delete_keys(prefix)
    body = "\n".join(
        [
            "## Propagation between replicas (`scripts/bench_propagation.py`)",
            "",
            f"- Command: `python scripts/bench_propagation.py --publishes {args.publishes}"
            f" --articles {args.articles}{' --no-load' if args.no_load else ''}`",
            f"- Two `recommender serve` processes sharing PostgreSQL and Redis, {args.articles:,}"
            " background articles, fake embedder; "
            + (
                "no reads meanwhile"
                if args.no_load or not articles
                else "wrk -c4 reading /related on each"
            )
            + f"; load average (1 min) up to {load_average:.1f} on 2 cores",
            "- Time from the write's answer until the other replica shows it in Lees ook of a story"
            " sharing its words, or no longer does (polled every 5 ms)",
            "",
            "| write | n | p50 ms | p90 ms | max ms | ≥ 1 s |",
            "|---|---|---|---|---|---|",
            *(summary(name, seconds) for name, seconds in timings.items()),
        ]
    )
    print(body)
    if not args.no_write:
        write_section(ROOT / "BENCHMARKS.md", MARK, body)


if __name__ == "__main__":
    main()
