"""Co-read snapshots (service/snapshot.py): the table as flat arrays and back, so the file
needs no pickle. Mixed into CoReads, which owns the attributes declared here."""

from __future__ import annotations

from array import array

import numpy as np

from recommender.config import CoReadConfig
from recommender.recent import RecentKeys


class CoReadSnapshots:
    config: CoReadConfig
    pairs: dict[str, dict[str, float]]
    counts: dict[str, float]
    _ref: float | None
    _last: float
    _slot_of: dict[str, int]
    _article_ids: list[str | None]
    _sessions: RecentKeys
    _reads: array[int]
    _read_ts: array[float]
    _lengths: array[int]
    _changes: int

    def state(self) -> tuple[dict[str, float | None], dict[str, np.ndarray]]:
        """The clock (reference and latest read) and the table as flat arrays. Article ids are
        kept once each (`articles`, in slot order) and referred to by position: numpy stores
        strings at the width of the longest, so one copy per read would multiply that width.
        Sessions are their 64-bit keys with their rows' reads. Runs under the intake lock."""
        articles = [a if a is not None else "" for a in self._article_ids]
        known = set(self._slot_of)
        extra = [
            a for a in {**dict.fromkeys(self.pairs), **dict.fromkeys(self.counts)} if a not in known
        ]
        articles += extra
        position = {a: n for n, a in enumerate(articles) if a}
        sessions = self._sessions.state()
        rows = sessions["rows"]
        all_reads, all_ts, all_lengths = self._session_arrays()
        lengths = all_lengths[rows].astype(np.int64)
        held = np.arange(self.config.session_items) < lengths[:, None]
        pairs = self.pairs
        arrays = {
            "articles": np.array(articles, dtype=str),
            "pair_a": np.repeat(
                np.fromiter(map(position.__getitem__, pairs), np.int64, len(pairs)),
                [len(p) for p in pairs.values()],
            ),
            "pair_b": np.array([position[b] for p in pairs.values() for b in p], dtype=np.int64),
            "pair_v": np.array([v for p in pairs.values() for v in p.values()], dtype=np.float64),
            "count_ids": np.array([position[a] for a in self.counts], dtype=np.int64),
            "count_v": np.array(list(self.counts.values()), dtype=np.float64),
            "session_keys": sessions["keys"],
            "session_times": sessions["times"],
            "session_rows": rows,
            "session_reads": lengths,
            "read_article": all_reads[rows][held].astype(np.int64),
            "read_ts": all_ts[rows][held],
        }
        return {"ref": self._ref, "last": self._last}, arrays

    def restore(self, clock: dict[str, float | None], arrays: dict[str, np.ndarray]) -> None:
        """Into a table of the same config (a snapshot of other settings is not loaded)."""
        names: list[str] = arrays["articles"].tolist()
        self._ref, self._last = clock["ref"], float(clock["last"] or 0.0)
        # pairs are stored grouped by article: one dict(zip(...)) per article
        pair_a = arrays["pair_a"]
        partners = [names[n] for n in arrays["pair_b"].tolist()]
        values = arrays["pair_v"].tolist()
        starts = np.flatnonzero(np.diff(pair_a, prepend=-1)) if len(pair_a) else pair_a
        bounds = [*starts.tolist(), len(pair_a)]
        heads = [names[n] for n in pair_a[starts].tolist()] if len(pair_a) else []
        self.pairs = {
            a: dict(zip(partners[lo:hi], values[lo:hi], strict=True))
            for a, lo, hi in zip(heads, bounds, bounds[1:], strict=False)
        }
        counted = [names[n] for n in arrays["count_ids"].tolist()]
        self.counts = dict(zip(counted, arrays["count_v"].tolist(), strict=True))
        # slots are positions in `articles`: the reads refer to them as they are
        self._article_ids = [a or None for a in names]
        self._slot_of = {a: n for n, a in enumerate(names) if a}
        rows = arrays["session_rows"]
        self._sessions.restore(
            {"keys": arrays["session_keys"], "times": arrays["session_times"], "rows": rows}
        )
        all_reads, all_ts, all_lengths = self._session_arrays()
        lengths = arrays["session_reads"]
        all_lengths[:] = 0
        all_lengths[rows] = lengths
        held = np.arange(self.config.session_items) < lengths[:, None]
        reads, times = all_reads[rows], all_ts[rows]
        reads[held] = arrays["read_article"]
        times[held] = arrays["read_ts"]
        all_reads[rows], all_ts[rows] = reads, times
        self._changes += 1

    def _session_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Numpy views (no copies) of the session arrays: reads and times by row, lengths."""
        shape = (self.config.max_sessions, self.config.session_items)
        return (
            np.frombuffer(self._reads, dtype=np.int32).reshape(shape),
            np.frombuffer(self._read_ts, dtype=np.float64).reshape(shape),
            np.frombuffer(self._lengths, dtype=np.int16),
        )
