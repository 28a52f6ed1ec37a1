"""Co-reads: "readers of this story also read". Item-to-item co-occurrence within sessions'
views and clicks, time-decayed, normalised as cosine with shrinkage:

    sim(a, b) = C(a, b) / (sqrt(N(a) * N(b)) + shrinkage)

C counts sessions that read both (each pair once per session), N sessions that read one, all
decayed with one half-life. Values are kept scaled by 2^(t / half-life) from a reference time,
so an event is one add per pair and decay costs nothing until the scale is renormalised.
Memory is bounded: at most `neighbours` partners per article (the weakest go first), at most
`session_items` recent reads per session and `max_sessions` sessions (least recent go first).
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import OrderedDict
from collections.abc import Iterable, Sequence

import numpy as np

from recommender.config import CoReadConfig
from recommender.events import Event

HOUR = 3600.0
RENORMALISE_AT = 2.0**60  # scale factor past which every value is brought back to ~1
READ_TYPES = frozenset({"view", "click"})


class CoReads:
    def __init__(self, config: CoReadConfig | None = None) -> None:
        self.config = config or CoReadConfig()
        self._half_life = self.config.half_life_hours * HOUR
        self._ref: float | None = None
        self._last = 0.0  # time of the latest read: decay is measured up to it by default
        self.pairs: dict[str, dict[str, float]] = {}
        self.counts: dict[str, float] = {}
        self._sessions: OrderedDict[str, list[tuple[str, float]]] = OrderedDict()

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
        session = self._sessions.pop(event.session_id, [])
        horizon = event.ts - self.config.session_gap_hours * HOUR
        recent = [(a, t) for a, t in session if t >= horizon]
        self._sessions[event.session_id] = recent  # most recently active last
        if any(a == event.article_id for a, _ in recent):
            return False  # a refresh loop counts once
        weight = self._scale(event.ts)
        self._last = max(self._last, event.ts)
        self.counts[event.article_id] = self.counts.get(event.article_id, 0.0) + weight
        for other, _ in recent:
            self._add(event.article_id, other, weight)
            self._add(other, event.article_id, weight)
        recent.append((event.article_id, event.ts))
        del recent[: -self.config.session_items]
        while len(self._sessions) > self.config.max_sessions:
            self._sessions.popitem(last=False)
        return True

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
        """Drop articles that left the site (their partners lose them lazily, on read)."""
        for article_id in article_ids:
            self.pairs.pop(article_id, None)
            self.counts.pop(article_id, None)

    def _similarity(self, a: str, partners: dict[str, float], shrink: float) -> dict[str, float]:
        own = self.counts.get(a, 0.0)
        out = {}
        for b, together in partners.items():
            other = self.counts.get(b)
            if other:
                out[b] = together / (math.sqrt(own * other) + shrink)
        return out

    def _shrink(self, now: float | None) -> float:
        if self._ref is None:
            return self.config.shrinkage
        at = self._last if now is None else now
        return float(self.config.shrinkage * 2.0 ** ((at - self._ref) / self._half_life))

    def neighbours(
        self, article_id: str, k: int, now: float | None = None
    ) -> list[tuple[str, float]]:
        """The k articles most read together with this one, strongest first."""
        partners = self.pairs.get(article_id)
        if not partners:
            return []
        sims = self._similarity(article_id, partners, self._shrink(now))
        return heapq.nlargest(k, sims.items(), key=lambda item: item[1])

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

    # snapshots (service/snapshot.py): arrays only, so the file needs no pickle ---------------

    def state(self) -> tuple[dict[str, float | None], dict[str, np.ndarray]]:
        """The clock (reference and latest read) and the table as flat arrays. Ids are kept
        once each (`articles`, `sessions`) and referred to by position: numpy stores strings
        at the width of the longest, so one copy per read would multiply that width. Built
        with C-level iteration (chain, map): it runs under the intake lock."""
        chain = itertools.chain.from_iterable
        reads = list(chain(self._sessions.values()))
        read_ids = [a for a, _ in reads]
        articles = list({**dict.fromkeys(self.pairs), **dict.fromkeys(self.counts)})
        articles += list(dict.fromkeys(read_ids).keys() - set(articles))
        position = {a: n for n, a in enumerate(articles)}.__getitem__

        def positions(ids: Iterable[str]) -> np.ndarray:
            return np.fromiter(map(position, ids), dtype=np.int64)

        arrays = {
            "articles": np.array(articles, dtype=str),
            "pair_a": np.repeat(positions(self.pairs), [len(p) for p in self.pairs.values()]),
            "pair_b": positions(chain(self.pairs.values())),
            "pair_v": np.fromiter(chain(p.values() for p in self.pairs.values()), np.float64),
            "count_ids": positions(self.counts),
            "count_v": np.fromiter(self.counts.values(), np.float64),
            # sessions least recently active first, each with its reads in order
            "sessions": np.array(list(self._sessions), dtype=str),
            "session_reads": np.fromiter(map(len, self._sessions.values()), np.int64),
            "read_article": positions(read_ids),
            "read_ts": np.fromiter((t for _, t in reads), np.float64),
        }
        return {"ref": self._ref, "last": self._last}, arrays

    def restore(self, clock: dict[str, float | None], arrays: dict[str, np.ndarray]) -> None:
        names = np.array(arrays["articles"].tolist(), dtype=object)

        def ids(name: str) -> list[str]:
            return list(names[arrays[name]].tolist())

        self._ref, self._last = clock["ref"], float(clock["last"] or 0.0)
        # pairs are stored grouped by article: one dict(zip(...)) per article
        pair_a, partners, values = arrays["pair_a"], ids("pair_b"), arrays["pair_v"].tolist()
        starts = np.flatnonzero(np.diff(pair_a, prepend=-1)) if len(pair_a) else pair_a
        bounds = [*starts.tolist(), len(pair_a)]
        heads = names[pair_a[starts]].tolist() if len(pair_a) else []
        self.pairs = {
            a: dict(zip(partners[lo:hi], values[lo:hi], strict=True))
            for a, lo, hi in zip(heads, bounds, bounds[1:], strict=False)
        }
        self.counts = dict(zip(ids("count_ids"), arrays["count_v"].tolist(), strict=True))
        reads = list(zip(ids("read_article"), arrays["read_ts"].tolist(), strict=True))
        ends = np.cumsum(arrays["session_reads"]).tolist()
        sessions = arrays["sessions"].tolist()
        self._sessions = OrderedDict(
            (str(s), reads[end - n : end])
            for s, n, end in zip(sessions, arrays["session_reads"].tolist(), ends, strict=True)
        )

    # the Lees-ook hot path ---------------------------------------------------------------------

    def partner_similarities(
        self, article_id: str, candidate_ids: Sequence[str], now: float | None = None
    ) -> np.ndarray:
        """similarities() for distinct candidate ids, looking only at those that are partners
        of the article (one set intersection in C, usually a handful) instead of probing two
        dicts per candidate: what ranking ~200 candidates per request calls."""
        partners = self.pairs.get(article_id)
        out = np.zeros(len(candidate_ids))
        if not partners or not candidate_ids:
            return out
        position = dict(zip(candidate_ids, range(len(candidate_ids)), strict=True))
        if len(position) != len(candidate_ids):
            return self.similarities(article_id, candidate_ids, now)  # repeated ids
        shrink = self._shrink(now)
        own = self.counts.get(article_id, 0.0)
        for candidate in partners.keys() & position.keys():
            together = partners[candidate]
            other = self.counts.get(candidate)
            if together and other:
                out[position[candidate]] = together / (math.sqrt(own * other) + shrink)
        return np.minimum(out, 1.0)
