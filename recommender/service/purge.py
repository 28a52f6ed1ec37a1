"""Surrogate keys (what a CDN tags cached responses with) and the purge hook that tells a CDN
which keys to drop when articles change.

The hook never blocks a write: changed ids go into a bounded set that one background thread
drains, one POST per batch, with a timeout and a few retries; failures are logged, never
raised. A CDN that misses a purge still drops the response at its s-maxage.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from urllib.parse import quote

log = logging.getLogger(__name__)

# a key per kind of list, so an operator can purge every Lees-ook or Populair list at once
KIND_KEYS = {"related": "recommender:related", "popular": "recommender:popular"}


# urllib's quote is ~1.5 us an id, 5-7 a list's keys on every list answered the first time:
# an article's key is kept (a pure function of its id; bounded, least recently used out)
@functools.lru_cache(maxsize=65_536)
def article_key(article_id: str) -> str:
    """The surrogate key of one article: its id, percent-encoded so that it holds no space
    (keys are space-separated) and stays ASCII."""
    return "article:" + quote(article_id, safe="")


def surrogate_keys(kind: str, article_ids: Iterable[str]) -> str:
    """A Surrogate-Key header value: the list's kind and every article it depends on."""
    keys = [KIND_KEYS.get(kind, "recommender:" + kind)]
    keys += sorted(article_key(i) for i in article_ids)
    return " ".join(keys)


class PurgeHook:
    """POSTs `{"keys": [...]}` with the same keys in a Surrogate-Key header to url (plus any
    extra headers, e.g. a CDN API token) for every batch of changed articles."""

    def __init__(
        self,
        url: str,
        headers: dict[str, str] | None = None,
        timeout: float = 5.0,
        max_pending: int = 10_000,
        attempts: int = 3,
    ) -> None:
        self.url = url
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.max_pending = max_pending
        self.attempts = attempts
        self._pending: set[str] = set()
        self._wake = threading.Condition()
        self._busy = False
        self._closed = False
        self.sent = self.failed = self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="purge-hook", daemon=True)
        self._thread.start()

    def notify(self, article_ids: Iterable[str]) -> None:
        """Queue a purge of these articles' keys; returns at once."""
        with self._wake:
            for article_id in article_ids:
                if len(self._pending) >= self.max_pending:
                    self.dropped += 1
                    log.warning("purge.dropped", extra={"article_id": article_id})
                    continue
                self._pending.add(article_id)
            self._wake.notify()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until nothing is pending or being sent (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        with self._wake:
            while self._pending or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._wake.wait(left)
        return True

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify_all()
        self._thread.join(timeout=self.timeout * self.attempts + 1)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                batch, self._pending = sorted(self._pending), set()
                self._busy = True
            try:
                self._send(batch)
            finally:
                with self._wake:
                    self._busy = False
                    self._wake.notify_all()

    def _send(self, article_ids: list[str]) -> None:
        keys = [article_key(i) for i in article_ids]
        body = json.dumps({"keys": keys}).encode()
        headers = {
            **self.headers,
            "Content-Type": "application/json",
            "Surrogate-Key": " ".join(keys),
        }
        for attempt in range(1, self.attempts + 1):
            request = urllib.request.Request(self.url, body, headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    response.read()
                self.sent += 1
                log.info("purge.sent", extra={"keys": len(keys), "attempt": attempt})
                return
            except (urllib.error.URLError, OSError, ValueError) as exc:
                log.warning(
                    "purge.failed",
                    extra={"keys": len(keys), "attempt": attempt, "reason": str(exc)},
                )
                if attempt < self.attempts:
                    time.sleep(min(2.0, 0.2 * 2**attempt))
        self.failed += 1


def purge_hook_of(url: str | None, headers: dict[str, str], timeout: float) -> PurgeHook | None:
    """The CDN purge hook the settings name, or None without a purge URL."""
    return PurgeHook(url, headers, timeout) if url else None
