"""Who counts as a reader. Popularity counts readers, not requests (DESIGN.md): events from the
public API carry the sending client's key in their session id, and one client can add at most
`per_client` readers to one story per window, however many session ids it invents. Events
written with the token (imports, replays) carry no client key and are trusted as they are.

The gate is deterministic over the event stream, so replaying the stored events at start-up
admits exactly what was admitted live, for every popularity backend."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import re
from dataclasses import dataclass

from recommender.events import Event

CLIENT_MARK = re.compile(r"^c\.([0-9a-f]{16})/")


def client_key(address: str, secret: bytes) -> str:
    """A keyed hash of the client's address: limits work on it, the raw address is never kept."""
    return hmac.new(secret, address.encode(), hashlib.sha256).hexdigest()[:16]


def reader_session(client: str, session_id: str | None) -> str:
    """The stored session id of a public event: the client's key, then the session it sent.
    Without a session the client itself is the reader (one per story per window, never free)."""
    return f"c.{client}/{session_id or ''}"


def client_of(session_id: str | None) -> str | None:
    match = CLIENT_MARK.match(session_id or "")
    return match.group(1) if match else None


@dataclass(slots=True)
class _Readers:
    since: float
    sessions: set[str]


class ReaderGate:
    """Per (client, article), at most `per_client` distinct sessions count within a window."""

    def __init__(self, window_seconds: float, per_client: int, max_entries: int = 400_000) -> None:
        self.window = window_seconds
        self.per_client = per_client
        self._readers: dict[tuple[str, str], _Readers] = {}
        self._max_entries = max_entries
        self._prune_at = min(50_000, max_entries)
        self.refused = 0

    def admit(self, event: Event) -> bool:
        client = client_of(event.session_id)
        if client is None:
            return True
        key = (client, event.article_id)
        entry = self._readers.get(key)
        if entry is None or event.ts - entry.since >= self.window:
            entry = self._readers[key] = _Readers(event.ts, set())
            if len(self._readers) > self._prune_at:
                self._prune(event.ts)
        session = event.session_id or ""
        if session in entry.sessions:
            return True  # the same reader again: the session de-duplication decides
        if len(entry.sessions) >= self.per_client:
            self.refused += 1
            return False
        entry.sessions.add(session)
        return True

    def _prune(self, now: float) -> None:
        # amortised: a sweep only after the table doubled, so each event pays O(1)
        horizon = now - self.window
        kept = {k: v for k, v in self._readers.items() if v.since >= horizon}
        if len(kept) > self._max_entries // 2:
            # more clients × stories than memory allows: forget the oldest (the rate limit still
            # bounds what each of them can send)
            kept = dict(itertools.islice(kept.items(), len(kept) - self._max_entries // 2, None))
        self._readers = kept
        self._prune_at = min(self._max_entries, max(50_000, 2 * len(kept)))

    def __len__(self) -> int:
        return len(self._readers)

    def state(self) -> list[tuple[str, str, float, list[str]]]:
        return [(c, a, r.since, sorted(r.sessions)) for (c, a), r in self._readers.items()]

    def restore(self, rows: list[tuple[str, str, float, list[str]]]) -> None:
        self._readers = {(c, a): _Readers(since, set(s)) for c, a, since, s in rows}
