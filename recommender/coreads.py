"""Co-reads: "readers of this story also read". Item-to-item co-occurrence within sessions'
views and clicks, time-decayed, normalised as cosine with shrinkage:

    sim(a, b) = C(a, b) / (sqrt(N(a) * N(b)) + shrinkage)

C counts sessions that read both (each pair once per session), N sessions that read one, all
decayed with one half-life. Values are kept scaled by 2^(t / half-life) from a reference time,
so an event is one add per pair and decay costs nothing until the scale is renormalised.
Memory is bounded: at most 2 x `neighbours` partners per article (the weakest go first), and
the sessions' recent reads live in arrays allocated once, at the cap: `max_sessions` sessions of
`session_items` reads each (recent.py; when full, the sessions idle longest go, those idle past
the session gap first). Articles that left the site are forgotten with their partners.
"""

from __future__ import annotations

import hashlib
import heapq
import math
from array import array
from collections.abc import Iterable, Sequence
from operator import itemgetter

import numpy as np

from recommender.config import CoReadConfig
from recommender.coreads_snapshot import CoReadSnapshots
from recommender.events import Event
from recommender.recent import RecentKeys

HOUR = 3600.0
RENORMALISE_AT = 2.0**60  # scale factor past which every value is brought back to ~1
READ_TYPES = frozenset({"view", "click"})
# when the session table is full, the most recently active share of it stays
SESSIONS_KEPT = 0.75


def session_key(session_id: str) -> int:
    """A stable 64-bit key of a session: the same in every process (snapshots)."""
    return int.from_bytes(hashlib.blake2b(session_id.encode(), digest_size=8).digest(), "little")


class CoReads(CoReadSnapshots):
    def __init__(self, config: CoReadConfig | None = None) -> None:
        self.config = config or CoReadConfig()
        self._half_life = self.config.half_life_hours * HOUR
        self._ref: float | None = None
        self._last = 0.0  # time of the latest read: decay is measured up to it by default
        self.pairs: dict[str, dict[str, float]] = {}
        self.counts: dict[str, float] = {}
        # articles as small ints in the session arrays; a forgotten one's entry is None
        self._slot_of: dict[str, int] = {}
        self._article_ids: list[str | None] = []
        self._new_sessions()
        # bumped by every change of pairs or counts: what the last query's partners were
        # computed from (Lees ook asks twice per request: for candidates, then for features)
        self._changes = 0
        self._last_partners: tuple[object, dict[str, float]] | None = None

    def _new_sessions(self) -> None:
        """Per session (a row of `session_items`): its reads, oldest first, as article slots and
        times, in flat arrays written in full here, so the memory is taken now, not as sessions
        arrive (array, not numpy: one element at a time is what a read touches)."""
        config = self.config
        self._sessions = RecentKeys(
            config.max_sessions, config.session_gap_hours * HOUR, keep=SESSIONS_KEPT
        )
        size = config.max_sessions * config.session_items
        self._reads = array("i", bytes(4 * size))
        self._read_ts = array("d", bytes(8 * size))
        self._lengths = array("h", bytes(2 * config.max_sessions))

    def __len__(self) -> int:
        return len(self.pairs)

    def _scale(self, ts: float) -> float:
        if self._ref is None:
            self._ref = ts
        scale = float(2.0 ** ((ts - self._ref) / self._half_life))
        if scale > RENORMALISE_AT:
            self._renormalise(scale, ts)
            scale = 1.0
        return scale

    def _renormalise(self, factor: float, ts: float) -> None:
        for partners in self.pairs.values():
            for other in partners:
                partners[other] /= factor
        for article_id in self.counts:
            self.counts[article_id] /= factor
        self._ref = ts

    def record(self, event: Event) -> bool:
        """Count one read; False when it is not a read, has no session or repeats one."""
        if event.type not in READ_TYPES or not event.session_id:
            return False
        row = self._session_row(session_key(event.session_id), event.ts)
        recent = self._recent(row, event.ts - self.config.session_gap_hours * HOUR)
        all_kept = len(recent) == self._lengths[row]
        if any(a == event.article_id for a, _, _ in recent):
            if not all_kept:
                self._rewrite(row, recent)
            return False  # a refresh loop counts once
        weight = self._scale(event.ts)
        self._last = max(self._last, event.ts)
        self.counts[event.article_id] = self.counts.get(event.article_id, 0.0) + weight
        for other, _, _ in recent:
            self._add(event.article_id, other, weight)
            self._add(other, event.article_id, weight)
        self._changes += 1  # after the change: partners kept under the new count see it all
        slot = self._slot(event.article_id)
        items = self.config.session_items
        if all_kept and len(recent) < items:  # the usual case: one more read at the end
            at = row * items + len(recent)
            self._reads[at], self._read_ts[at] = slot, event.ts
            self._lengths[row] += 1
        else:
            recent.append((event.article_id, slot, event.ts))
            self._rewrite(row, recent[-items:])
        return True

    def _session_row(self, key: int, ts: float) -> int:
        """The session's row, marked active now; a new session gets an empty one."""
        sessions = self._sessions
        at = sessions.find(key)
        if at >= 0:
            sessions.touch(at, max(ts, sessions.time_at(at)))
            return sessions.row_at(at)
        row = sessions.insert(key, ts)
        self._lengths[row] = 0
        return row

    def _recent(self, row: int, horizon: float) -> list[tuple[str, int, float]]:
        """The session's reads within the session gap, oldest first, as (article, slot, time);
        forgotten articles left out."""
        start = row * self.config.session_items
        end = start + self._lengths[row]
        ids = self._article_ids
        reads = zip(self._reads[start:end], self._read_ts[start:end], strict=True)
        return [(a, s, t) for s, t in reads if t >= horizon and (a := ids[s]) is not None]

    def _rewrite(self, row: int, reads: list[tuple[str, int, float]]) -> None:
        start = row * self.config.session_items
        end = start + len(reads)
        self._reads[start:end] = array("i", [s for _, s, _ in reads])
        self._read_ts[start:end] = array("d", [t for _, _, t in reads])
        self._lengths[row] = len(reads)

    def _slot(self, article_id: str) -> int:
        slot = self._slot_of.get(article_id)
        if slot is None:
            slot = self._slot_of[article_id] = len(self._article_ids)
            self._article_ids.append(article_id)
        return slot

    def session_reads(self, session_id: str) -> list[tuple[str, float]]:
        """A session's recent reads as held (tests, snapshots): (article, time), oldest first."""
        at = self._sessions.find(session_key(session_id))
        if at < 0:
            return []
        return [(a, t) for a, _, t in self._recent(self._sessions.row_at(at), -math.inf)]

    def record_many(self, events: Iterable[Event]) -> int:
        return sum(self.record(e) for e in events)

    def _add(self, a: str, b: str, weight: float) -> None:
        partners = self.pairs.setdefault(a, {})
        partners[b] = partners.get(b, 0.0) + weight
        limit = self.config.neighbours
        if len(partners) > 2 * limit:
            # amortised: prune to the strongest `limit` once the table doubles
            kept = heapq.nlargest(limit, partners.items(), key=lambda item: item[1])
            self.pairs[a] = dict(kept)

    def forget(self, article_ids: Sequence[str]) -> None:
        """Drop articles that left the site: their counts, their partners and their place in
        other articles' partners and in sessions' reads."""
        gone = set(article_ids) & (self.pairs.keys() | self.counts.keys() | self._slot_of.keys())
        if not gone:
            return
        for article_id in gone:
            self.pairs.pop(article_id, None)
            self.counts.pop(article_id, None)
            slot = self._slot_of.pop(article_id, None)
            if slot is not None:
                self._article_ids[slot] = None
        for partners in self.pairs.values():
            for article_id in gone & partners.keys():
                del partners[article_id]
        self._changes += 1

    def _shrink(self, now: float | None) -> float:
        if self._ref is None:
            return self.config.shrinkage
        at = self._last if now is None else now
        return float(self.config.shrinkage * 2.0 ** ((at - self._ref) / self._half_life))

    def neighbours(
        self, article_id: str, k: int, now: float | None = None
    ) -> list[tuple[str, float]]:
        """The k articles most read together with this one, strongest first."""
        # what heapq.nlargest(k, ...) is documented to equal (ties in partner order), without
        # its heap and a Python key call per partner: a few dozen partners at most
        return sorted(self.partners(article_id, now).items(), key=itemgetter(1), reverse=True)[:k]

    def similarities(
        self, article_id: str, candidate_ids: Sequence[str], now: float | None = None
    ) -> np.ndarray:
        """Each candidate's co-read similarity to the article, in [0, 1]."""
        out = np.zeros(len(candidate_ids))
        partners = self.pairs.get(article_id)
        if not partners:
            return out
        shrink = self._shrink(now)
        own = self.counts.get(article_id, 0.0)
        for n, candidate in enumerate(candidate_ids):
            together = partners.get(candidate)
            other = self.counts.get(candidate)
            if together and other:
                out[n] = together / (math.sqrt(own * other) + shrink)
        return np.minimum(out, 1.0)

    def entries(self) -> int:
        """Pairs held: what bounds memory (at most 2 x neighbours per article)."""
        return sum(len(p) for p in self.pairs.values())

    # the Lees-ook hot path ---------------------------------------------------------------------

    def partners(self, article_id: str, now: float | None = None) -> dict[str, float]:
        """The article's partners that have a count, with their co-read similarity (not capped
        at 1). The last answer is kept until the table changes: Lees ook asks for one article
        twice per request (candidates, then features). Read it, never change it."""
        key = (article_id, now, self._changes)
        memo = self._last_partners
        if memo is not None and memo[0] == key:
            return memo[1]
        partners = self.pairs.get(article_id)
        found = self._similarity(article_id, partners, self._shrink(now)) if partners else {}
        self._last_partners = (key, found)
        return found

    def _similarity(self, a: str, partners: dict[str, float], shrink: float) -> dict[str, float]:
        own = self.counts.get(a, 0.0)
        out = {}
        for b, together in partners.items():
            other = self.counts.get(b)
            if other:
                out[b] = together / (math.sqrt(own * other) + shrink)
        return out

    def partner_similarities(
        self, article_id: str, candidate_ids: Sequence[str], now: float | None = None
    ) -> np.ndarray:
        """similarities() for distinct candidate ids, looking only at those that are partners
        of the article (usually a handful) instead of probing two dicts per candidate."""
        out = np.zeros(len(candidate_ids))
        sims = self.partners(article_id, now)
        if not sims or not candidate_ids:
            return out
        position = dict(zip(candidate_ids, range(len(candidate_ids)), strict=True))
        if len(position) != len(candidate_ids):
            return self.similarities(article_id, candidate_ids, now)  # repeated ids
        for partner in sims.keys() & position.keys():
            out[position[partner]] = sims[partner]
        return np.minimum(out, 1.0)
