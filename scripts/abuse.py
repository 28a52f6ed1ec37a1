"""Every attack of issue 12 against a real `recommender serve` on loopback, with its outcome.

    .venv/bin/python scripts/abuse.py                       # all scenarios, bounded sizes
    .venv/bin/python scripts/abuse.py --only flood,faults   # some of them
    .venv/bin/python scripts/abuse.py --fabricated 500000 --soak 2000000   # the issue's sizes
    .venv/bin/python scripts/abuse.py --only fabricated --pin   # server and clients on own CPUs

Scenarios: `flood` (1,000 invented sessions from one client within a minute, against stories
read by 40-90 distinct readers; then 500 clicks without a session; then a back-dated flood),
`fabricated` (events for made-up ids, then /popular?window=trending worst of 50 and /related p50
idle vs while two clients loop trending), `soak` (a stream of events over 5k articles with
rotating sessions: RSS every 5%, compared after the first 10% with the end and the range; then
restarts with the events stored, with and without an index folder and a snapshot, each with the
server's own start-up breakdown), `kill` (kill -9 mid-stream, the client retries its
unacknowledged batches: acknowledged events lost, events stored twice), `faults` (another
process holds SQLite's write lock, then the database file made immutable: what writes and
reads answer). The server uses the fake embedder; organic readers are told apart by
X-Forwarded-For from a trusted proxy (loopback).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_report import cpu_description, write_section  # noqa: E402

# --pin: the server on CPU 0, every client (loopers, the measuring one) on the others, as when
# clients are other machines; unpinned, the loopers' own CPU is taken from the server's
PIN: dict[str, set[int]] = {}
ANON: list[float] = []  # the soak's RssAnon at each checkpoint after the first
TOKEN = "abuse-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
REPORT: list[str] = []


def say(*parts: str) -> None:
    """Print an outcome and keep it for BENCHMARKS.md (--write)."""
    line = "".join(parts)
    print(line, flush=True)
    REPORT.append(line)


class Server:
    """`recommender serve` in a subprocess on a free loopback port."""

    def __init__(self, folder: Path, extra: dict[str, str] | None = None) -> None:
        self.folder = folder
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "RECOMMENDER_DATA_DIR": str(folder / "var"),
            "RECOMMENDER_MODELS_DIR": str(folder / "models"),
            "RECOMMENDER_MODEL_NAME": "fake",
            "RECOMMENDER_API_TOKEN": TOKEN,
            "RECOMMENDER_TRUSTED_PROXIES": "127.0.0.1",
            "RECOMMENDER_SERVED_LOG": "false",
            **(extra or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, limit: float = 600.0) -> float:
        """Start and wait for /health/ready (at most `limit` seconds); the seconds it took."""
        started = time.perf_counter()
        self.folder.mkdir(parents=True, exist_ok=True)
        log = (self.folder / f"server-{self.port}.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "recommender", "serve", "--port", str(self.port)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        if PIN:
            os.sched_setaffinity(self.process.pid, PIN["server"])
        while time.perf_counter() - started < limit:
            try:
                if call(self.base, "GET", "/health/ready")[0] == 200:
                    return time.perf_counter() - started
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("the server did not become ready")

    def log_lines(self) -> list[str]:
        """What the server wrote to its log so far."""
        path = self.folder / f"server-{self.port}.log"
        return path.read_text(errors="replace").splitlines() if path.exists() else []

    def rss_mb(self, field: str = "VmRSS") -> float:
        """Resident memory in MB (VmRSS; RssAnon: the heap and arrays, without mapped files)."""
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def call(
    base: str, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any, dict[str, str]]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (loopback)
            text = response.read()
            return response.status, json.loads(text) if text else None, dict(response.headers)
    except urllib.error.HTTPError as exc:
        text = exc.read()
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = text.decode(errors="replace")
        return exc.code, parsed, dict(exc.headers)


def articles(count: int, now: datetime) -> list[dict[str, Any]]:
    """Stories with words of their own, so the fake embedder keeps them apart (Populair
    leaves out near-duplicates)."""
    rng = random.Random(7)
    return [
        {
            "id": f"a{i}",
            "title": f"Verhaal {i}",
            "text": " ".join(f"w{rng.randrange(50_000)}" for _ in range(40)),
            "section": rng.choice(["Binnenland", "Sport", "Economie"]),
            "url": f"https://krant.example/a{i}",
            "published_at": (now - timedelta(hours=rng.uniform(1, 48))).isoformat(),
        }
        for i in range(count)
    ]


def ingest(server: Server, count: int) -> None:
    batch = articles(count, datetime.now(UTC))
    for start in range(0, count, 1_000):
        status, body, _ = call(
            server.base, "POST", "/v1/articles", {"articles": batch[start : start + 1_000]}, AUTH
        )
        assert status == 200, body


def clicks(article_id: str, sessions: list[str | None], **extra: Any) -> dict[str, Any]:
    return {
        "events": [
            {"type": "click", "article_id": article_id, "session_id": s, **extra} for s in sessions
        ]
    }


def rank_of(server: Server, article_id: str, k: int = 6, window: str = "decayed") -> str:
    _, body, _ = call(server.base, "GET", f"/v1/popular?k={k}&window={window}")
    ids = [item["id"] for item in body["items"]]
    return f"rank {ids.index(article_id) + 1}" if article_id in ids else f"not in the top {k}"


def organic_readers(server: Server, stories: list[str]) -> None:
    """40-90 distinct readers per story, each from its own address (behind the proxy)."""
    rng = random.Random(3)
    for n, story in enumerate(stories):
        for reader in range(40 + (50 * n) // max(1, len(stories) - 1)):
            address = f"10.{n}.{reader // 250}.{reader % 250 + 1}"
            session = f"r{n}-{reader}-{rng.random():.6f}"[:40]
            call(
                server.base,
                "POST",
                "/v1/events",
                clicks(story, [session]),
                {"X-Forwarded-For": address},
            )


def scenario_flood(folder: Path) -> None:
    # limits high enough that only the reader cap stands between the flood and the top
    unlimited = {"RECOMMENDER_EVENTS_PER_MINUTE_PER_CLIENT": "1000000"}
    server = Server(folder / "flood", {**unlimited, "RECOMMENDER_EVENTS_BURST_PER_CLIENT": "5000"})
    server.start()
    try:
        ingest(server, 60)
        organic_readers(server, [f"a{i}" for i in range(10)])
        attacker = {"X-Forwarded-For": "203.0.113.66"}
        started = time.perf_counter()
        answers = [
            call(
                server.base,
                "POST",
                "/v1/events",
                clicks("a50", [f"fake{i}" for i in range(j, j + 100)]),
                attacker,
            )
            for j in range(0, 1_000, 100)
        ]
        seconds = time.perf_counter() - started
        statuses = sorted({status for status, _, _ in answers})
        counted = sum(body["counted"] for status, body, _ in answers if status == 202)
        say(
            f"fake-session flood: 1,000 sessions from one client in {seconds:.2f} s, statuses "
            f"{statuses}, counted {counted}; story {rank_of(server, 'a50')} (organic: 40-90 "
            f"readers)"
        )
        status, body, _ = call(
            server.base,
            "POST",
            "/v1/events",
            clicks("a51", [None] * 500),
            {"X-Forwarded-For": "203.0.113.67"},
        )
        say(
            f"no-session flood: 500 clicks in one request → {status} {body}; story "
            f"{rank_of(server, 'a51')}"
        )
        long_ago = datetime.now(UTC) - timedelta(days=3)
        dated = [
            {
                "type": "click",
                "article_id": "a52",
                "session_id": "same",
                "ts": (long_ago + timedelta(minutes=31 * i)).isoformat(),
            }
            for i in range(100)
        ]
        status, body, _ = call(
            server.base,
            "POST",
            "/v1/events",
            {"events": dated},
            {"X-Forwarded-For": "203.0.113.68"},
        )
        say(
            f"back-dated flood: 100 clicks of one session spread over 2 days → {status} {body}; "
            f"story {rank_of(server, 'a52')}"
        )
    finally:
        server.stop()


def timings(base: str, path: str, count: int) -> list[float]:
    taken = []
    for _ in range(count):
        started = time.perf_counter()
        urllib.request.urlopen(base + path, timeout=30).read()  # noqa: S310 (loopback)
        taken.append((time.perf_counter() - started) * 1000)
    return taken


# one kept-alive connection, as a browser keeps it: the most requests a client can send, and the
# least of its own CPU spent per request (on this machine that CPU is the server's too)
LOOP = """
import http.client, sys, urllib.parse
url = urllib.parse.urlsplit(sys.argv[1])
connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
loops = 0
while True:
    connection.request("GET", url.path + "?" + url.query)
    connection.getresponse().read()
    loops += 1
"""


def loopers(base: str, processes: bool) -> Callable[[], None]:
    """Two clients looping /popular?window=trending, as separate processes (what two readers'
    browsers are) or as threads of this process; returns what stops them."""
    trending = base + "/v1/popular?window=trending"
    if processes:
        running = [subprocess.Popen([sys.executable, "-c", LOOP, trending]) for _ in range(2)]
        for looper in running:
            if PIN:
                os.sched_setaffinity(looper.pid, PIN["clients"])

        def stop_processes() -> None:
            for looper in running:
                looper.kill()
                looper.wait()

        return stop_processes
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            urllib.request.urlopen(trending, timeout=30).read()  # noqa: S310 (loopback)

    threads = [threading.Thread(target=loop) for _ in range(2)]
    for thread in threads:
        thread.start()

    def stop_threads() -> None:
        stop.set()
        for thread in threads:
            thread.join()

    return stop_threads


def related_idle_and_busy(base: str, processes: bool, rounds: int = 6) -> tuple[float, float]:
    """/related p50 idle and while two clients loop trending, in alternating rounds of 40
    requests each: the machine's other load drifts, and the two are compared under the same."""
    idle: list[float] = []
    busy: list[float] = []
    for _ in range(rounds):
        idle += timings(base, "/v1/articles/a1/related", 40)
        stop = loopers(base, processes)
        time.sleep(0.3)  # both started and looping
        try:
            busy += timings(base, "/v1/articles/a1/related", 40)
        finally:
            stop()
    return statistics.median(idle), statistics.median(busy)


def scenario_fabricated(folder: Path, fabricated: int) -> None:
    server = Server(folder / "fabricated")
    server.start()
    try:
        ingest(server, 2_000)
        organic_readers(server, [f"a{i}" for i in range(10)])
        rejected = 0
        started = time.perf_counter()
        for start in range(0, fabricated, 500):
            batch = {
                "events": [
                    {
                        "type": "click",
                        "article_id": f"made-up-{start + i}",
                        "session_id": f"s{start + i}",
                    }
                    for i in range(500)
                ]
            }
            status, body, _ = call(server.base, "POST", "/v1/events", batch, AUTH)
            rejected += body["rejected"] if status == 202 else 0
        say(
            f"fabricated-id flood: {fabricated:,} events in {time.perf_counter() - started:.0f} s, "
            f"rejected {rejected:,}; RSS {server.rss_mb():.0f} MB"
        )
        trending = timings(server.base, "/v1/popular?window=trending", 50)
        say(
            f"  /v1/popular?window=trending: worst of 50 {max(trending):.2f} ms (the first, "
            f"a cache miss: {trending[0]:.2f} ms; worst of the other 49: "
            f"{max(trending[1:]):.2f} ms), p50 {statistics.median(trending):.2f} ms"
        )
        inside = server_durations(server, "/v1/popular", 50)
        say(
            f"    the same 50 as the server's access log times them (in the app, without the "
            f"client's and the OS's share): worst {max(inside):.2f} ms, p50 "
            f"{statistics.median(inside):.2f} ms"
        )
        idle, in_processes = related_idle_and_busy(server.base, processes=True)
        idle_t, in_threads = related_idle_and_busy(server.base, processes=False)
        say(
            f"  /related p50 (6 alternating rounds of 40 idle / 40 busy): idle {idle:.2f} ms, "
            f"while two client processes loop trending {in_processes:.2f} ms "
            f"({in_processes / idle:.2f}×); two client threads in this process (their GIL is "
            f"the measuring client's too): idle {idle_t:.2f} ms, busy {in_threads:.2f} ms "
            f"({in_threads / idle_t:.2f}×)"
        )
    finally:
        server.stop()


def soak_stream(server: Server, total: int) -> list[tuple[int, float]]:
    """Views over 5k articles (Pareto: a few stories get most), a new session every 8 events;
    RSS after every 5% of the stream."""
    rng = random.Random(11)
    checkpoints = [(0, server.rss_mb())]
    sent = 0
    step = max(500, total // 20)
    while sent < total:
        batch = {
            "events": [
                {
                    "type": "view",
                    "article_id": f"a{int(rng.paretovariate(1.2)) % 5_000}",
                    "session_id": f"s{(sent + i) // 8}",
                }
                for i in range(500)
            ]
        }
        call(server.base, "POST", "/v1/events", batch, AUTH)
        sent += 500
        if sent % step == 0:
            checkpoints.append((sent, server.rss_mb()))
            ANON.append(server.rss_mb("RssAnon"))
    return checkpoints


def server_durations(server: Server, route: str, count: int) -> list[float]:
    """The last `count` requests to a route as the server's access log timed them, in ms."""
    durations = []
    for line in reversed(server.log_lines()):
        if f'"route": "{route}"' in line and '"duration_ms"' in line:
            durations.append(float(json.loads(line)["duration_ms"]))
            if len(durations) == count:
                break
    return durations or [float("nan")]


def started_breakdown(server: Server) -> str:
    """The last start's own account (the service.started log line): index, then events."""
    for line in reversed(list(server.log_lines())):
        if '"service.started"' in line:
            entry = json.loads(line)
            index = entry.get("index_seconds", 0.0)
            return (
                f"start-up {entry['seconds']:.2f} s: index and catalogue {index:.2f} s, "
                f"popularity and co-reads {entry['seconds'] - index:.2f} s "
                f"({entry['events_counted']:,} events counted)"
            )
    return "no service.started line"


def scenario_soak(folder: Path, total: int) -> None:
    server = Server(folder / "soak")
    server.start()
    try:
        before = server.rss_mb()
        ingest(server, 5_000)
        checkpoints = soak_stream(server, total)
        # bounded = flat once warmed up: the tables fill within the first tenth of the stream
        warm = next(rss for n, rss in checkpoints if n >= total // 10)
        later = [rss for n, rss in checkpoints if n >= total // 10]
        shown = ", ".join(f"{n // 1000}k: {rss:.0f}" for n, rss in checkpoints)
        say(f"memory soak: {total:,} events over 5k articles, rotating sessions; RSS MB {shown}")
        say(f"  of which anonymous (heap, arrays) MB: {', '.join(f'{mb:.0f}' for mb in ANON)}")
        say(
            f"  RSS before the articles {before:.0f} MB; after 10% of the stream {warm:.0f} MB, "
            f"at the end {later[-1]:.0f} MB ({(later[-1] - warm) / warm * 100:+.1f}%), from 10% "
            f"on between {min(later):.0f} and {max(later):.0f} MB "
            f"({(min(later) - warm) / warm * 100:+.1f}% / {(max(later) - warm) / warm * 100:+.1f}%)"
        )
        server.stop()
        restarts(server, total)
        compacted_restart(server)
    finally:
        server.stop()


def restarts(server: Server, total: int) -> None:
    """Ready times with `total` events stored: from the snapshot, without an index folder (the
    index rebuilt from the store's embedding cache) and with one (`recommender build`)."""
    ready = server.start()
    say(f"  restart with {total:,} events stored, no index folder: ready in {ready:.2f} s")
    say(f"    {started_breakdown(server)}")
    server.stop()
    built = subprocess.run(
        [sys.executable, "-m", "recommender", "build"], env=server.env, capture_output=True
    )
    for attempt in ("from the snapshot", "from the snapshot, again"):
        ready = server.start()
        say(f"  restart, index folder built (exit {built.returncode}), {attempt}: {ready:.2f} s")
        say(f"    {started_breakdown(server)}")
        server.stop()
    (server.folder / "var" / "popularity.snapshot").unlink()
    full = server.start()
    say(f"  the same without the snapshot (full replay): ready in {full:.2f} s")
    say(f"    {started_breakdown(server)}")


def top_alltime(server: Server) -> list[str]:
    status, body, _ = call(server.base, "GET", "/v1/popular?window=alltime&k=20")
    return [item["id"] for item in body["items"]] if status == 200 else []


def sqlite_sizes(db: Path) -> tuple[float, float, int]:
    """The database file's size and its free pages (reused by later writes), in MB; raw
    events left."""
    with sqlite3.connect(db) as conn:
        page = conn.execute("PRAGMA page_size").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0] * page
        events = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    return db.stat().st_size / 1e6, free / 1e6, events


def compacted_restart(server: Server) -> None:
    """Retention: every soak event past a window of a few seconds is compacted into hourly
    aggregates (`recommender compact-events`); a restart without a snapshot counts them."""
    before = top_alltime(server)
    server.stop()
    time.sleep(2)  # every soak event is older than the window below
    db = server.folder / "var" / "recommender.db"
    size, _, events = sqlite_sizes(db)
    env = {**server.env, "RECOMMENDER_EVENT_RETENTION_DAYS": str(1 / 86_400)}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "recommender", "compact-events", "--json"],
        env=env,
        capture_output=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    report = (
        json.loads(done.stdout) if done.returncode == 0 else {"error": done.stderr.decode()[-300:]}
    )
    size_after, free, left = sqlite_sizes(db)
    say(
        f"  compact-events (exit {done.returncode}): {report.get('compacted', 0):,} of "
        f"{events:,} raw events into hourly aggregates in {seconds:.1f} s; {left:,} raw left; "
        f"database {size:.0f} MB → {size_after:.0f} MB, of which {free:.0f} MB free pages that "
        "new events reuse"
    )
    (server.folder / "var" / "popularity.snapshot").unlink(missing_ok=True)
    ready = server.start()
    after = top_alltime(server)
    say(
        f"  restart without a snapshot after compaction: ready in {ready:.2f} s; alltime top 20 "
        f"{'the same' if after == before else 'DIFFERENT'} as before compaction"
    )
    say(f"    {started_breakdown(server)}")


def scenario_kill(folder: Path, batches: int = 60) -> None:
    server = Server(folder / "kill")
    server.start()
    ingest(server, 100)
    acknowledged: set[str] = set()
    pending: list[dict[str, Any]] = []
    killer = threading.Timer(1.0, server.kill)
    killer.start()
    for b in range(batches):
        events = [
            {
                "type": "view",
                "article_id": f"a{(b * 7 + i) % 100}",
                "event_id": f"b{b}-{i}",
                "session_id": f"s{b}-{i}",
            }
            for i in range(100)
        ]
        pending.append({"events": events})
        sent = pending[:]
        for batch in sent:
            try:
                status, _, _ = call(server.base, "POST", "/v1/events", batch, AUTH)
            except OSError:
                status = 0
            if status == 202:
                acknowledged.update(e["event_id"] for e in batch["events"])
                pending.remove(batch)
            elif status == 0 and server.process is not None and server.process.poll() is not None:
                server.start()  # the client's retries find the restarted server
        time.sleep(0.03)
    # a retry of an acknowledged batch whose answer was lost: must not be counted twice
    call(
        server.base,
        "POST",
        "/v1/events",
        {
            "events": [
                {"type": "view", "article_id": "a0", "event_id": "b0-0", "session_id": "s0-0"}
            ]
        },
        AUTH,
    )
    server.stop()
    connection = sqlite3.connect(folder / "kill" / "var" / "recommender.db")
    # stored per sender: the token's events carry the "token:" prefix
    ids = [row[0].partition(":")[2] for row in connection.execute("SELECT event_id FROM events")]
    connection.close()
    lost = len(acknowledged - set(ids))
    twice = len(ids) - len(set(ids))
    say(
        f"kill -9 mid-stream with retries: {len(acknowledged):,} acknowledged, {lost} lost, "
        f"{twice} stored twice"
    )


def scenario_faults(folder: Path) -> None:
    server = Server(folder / "faults", {"RECOMMENDER_SQLITE_BUSY_TIMEOUT_MS": "1000"})
    server.start()
    try:
        ingest(server, 100)
        other = sqlite3.connect(folder / "faults" / "var" / "recommender.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        started = time.perf_counter()
        status, body, headers = call(server.base, "POST", "/v1/events", clicks("a1", ["x"]))
        write_ms = (time.perf_counter() - started) * 1000
        reads = timings(server.base, "/v1/articles/a1", 20) + timings(server.base, "/demo/a1", 20)
        other.execute("ROLLBACK")
        other.close()
        say(
            f"SQLite write lock held by another process: event write → {status} {body} "
            f"(Retry-After {headers.get('retry-after') or headers.get('Retry-After')}) after "
            f"{write_ms:.0f} ms; GET article/demo worst {max(reads):.1f} ms"
        )
        status, body, _ = call(server.base, "POST", "/v1/events", clicks("a1", ["x"]))
        say(f"  lock released: {status} {body}")
        burst = [
            call(
                server.base,
                "POST",
                "/v1/events",
                clicks("a2", [f"b{i}-{j}" for j in range(100)]),
                {"X-Forwarded-For": "203.0.113.69"},
            )
            for i in range(12)
        ]
        limited = [
            (s, h.get("retry-after") or h.get("Retry-After")) for s, _, h in burst if s == 429
        ]
        say(
            f"rate limit: 12 × 100 events at once from one client → {len(limited)} answered 429, "
            f"Retry-After {limited[0][1] if limited else '-'} s"
        )
        read_only_database(server, folder / "faults" / "var" / "recommender.db")
    finally:
        server.stop()


def read_only_database(server: Server, db: Path) -> None:
    """The database file made immutable (chattr +i: root ignores file modes) under a restarted
    server: writes must answer a JSON 503 and reads keep serving."""
    if shutil.which("chattr") is None:
        say("read-only database: skipped (no chattr on this machine)")
        return
    server.stop()
    made = subprocess.run(["chattr", "+i", str(db)], capture_output=True, text=True)
    if made.returncode != 0:
        say(f"read-only database: skipped (chattr: {made.stderr.strip()})")
        return
    try:
        server.start(limit=60)
        status, body, _ = call(server.base, "POST", "/v1/events", clicks("a1", ["ro"]))
        reads = []
        for path in ("/v1/articles/a1", "/demo/a1", "/v1/articles/a1/related"):
            with urllib.request.urlopen(server.base + path, timeout=30) as page:  # noqa: S310
                reads.append(page.status)
        say(
            f"read-only database file: event write → {status} {body}; "
            f"GET article, demo page, related → {reads}"
        )
    finally:
        server.stop()
        subprocess.run(["chattr", "-i", str(db)], check=False)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", default="flood,fabricated,soak,kill,faults")
    parser.add_argument("--fabricated", type=int, default=100_000, help="fabricated-id events")
    parser.add_argument("--soak", type=int, default=200_000, help="events of the memory soak")
    parser.add_argument("--write", action="store_true", help="write the outcomes to BENCHMARKS.md")
    parser.add_argument(
        "--pin", action="store_true", help="server on CPU 0, clients on the other CPUs"
    )
    args = parser.parse_args()
    if args.pin:
        cpus = sorted(os.sched_getaffinity(0))
        PIN.update(server={cpus[0]}, clients=set(cpus[1:]) or {cpus[0]})
        os.sched_setaffinity(0, PIN["clients"])
    wanted = args.only.split(",")
    with tempfile.TemporaryDirectory(prefix="abuse-") as tmp:
        folder = Path(tmp)
        if "flood" in wanted:
            scenario_flood(folder)
        if "fabricated" in wanted:
            scenario_fabricated(folder, args.fabricated)
        if "soak" in wanted:
            scenario_soak(folder, args.soak)
        if "kill" in wanted:
            scenario_kill(folder)
        if "faults" in wanted:
            scenario_faults(folder)
    if args.write:
        command = "python scripts/abuse.py " + " ".join(sys.argv[1:])
        body = "\n".join(
            ["## Abuse (issue 12)", "", f"`{command}` on {cpu_description()}", "", "```", *REPORT]
            + ["```"]
        )
        write_section(ROOT / "BENCHMARKS.md", "abuse", body)


if __name__ == "__main__":
    main()
