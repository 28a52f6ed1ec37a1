"""Served lists go to the log off the request's hot path: `record` is a deque append; a daemon
thread writes them in batches. A log that cannot keep up drops the oldest pending lists (and
counts them) rather than slowing a page view or growing without bound."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

from recommender.events import ServedList
from recommender.store import ServedLog

log = logging.getLogger(__name__)

DAY = 86_400.0
PRUNE_EVERY_SECONDS = 3_600.0


class ServedListWriter:
    def __init__(
        self,
        served_log: ServedLog,
        *,
        flush_seconds: float = 1.0,
        max_pending: int = 50_000,
        retention_days: float = 90.0,
    ) -> None:
        self._log = served_log
        self._flush_seconds = flush_seconds
        self._retention_seconds = retention_days * DAY
        self._pending: deque[ServedList] = deque(maxlen=max_pending)
        self._max_pending = max_pending
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._flush_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._last_prune = 0.0
        self.recorded = 0
        self.written = 0
        self.dropped = 0
        self.repeated = 0  # lists answered again (result cache): their first row stands

    def record(self, served: ServedList) -> None:
        """Never blocks and never raises: a full queue drops its oldest list."""
        if len(self._pending) >= self._max_pending:
            self.dropped += 1
        self._pending.append(served)
        self.recorded += 1

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="served-log", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Write what is pending and stop the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self.flush()

    def flush(self, now: float | None = None) -> int:
        """Write every pending list now; prune lists past the retention window once an hour."""
        with self._flush_lock:
            batch: list[ServedList] = []
            while self._pending:
                batch.append(self._pending.popleft())
            if batch:
                try:
                    self._log.add_served(batch)
                    self.written += len(batch)
                except Exception:  # a full disk must not take the serving thread down
                    self.dropped += len(batch)
                    log.exception("served_log.write_failed", extra={"lists": len(batch)})
            now = time.time() if now is None else now
            if now - self._last_prune >= PRUNE_EVERY_SECONDS:
                self._last_prune = now
                pruned = self._log.prune_served(now - self._retention_seconds)
                if pruned:
                    log.info("served_log.pruned", extra={"lists": pruned})
            return len(batch)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._flush_seconds)
            self._wake.clear()
            try:
                self.flush()
            except Exception:
                log.exception("served_log.flush_failed")
