"""Salient names of every article as arrays, so the name overlap of a query with a few hundred
candidates is a handful of numpy calls instead of a Python loop over candidates and keys.

Each distinct key gets an id; each article a row listing its key ids (a flat forward store).
Which keys meet a key (equal, or one a prefix of the other, four letters at least: the rule of
Names.meets) is worked out once per key from the keys sharing its four-letter root, and
remembered until a new key with that root arrives.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import repeat

import numpy as np

from recommender.lexical.forward import Forward
from recommender.lexical.names import MIN_PREFIX, Names


class NameTable:
    """Key ids per article row, in step with a dict of Names by article id."""

    def __init__(self) -> None:
        self.key_ids: dict[str, int] = {}
        self.keys: list[str] = []
        self._by_root: dict[str, list[int]] = {}  # root → ids of the keys of 4+ letters
        self._meets: dict[str, dict[int, np.ndarray]] = {}  # root → key id → ids it meets
        self.forward = Forward()
        self.rows: dict[str, int] = {}
        self._bits = np.zeros(0, dtype=np.uint16)  # scratch of overlap

    @classmethod
    def of(cls, names: dict[str, Names]) -> NameTable:
        table = cls()
        table.put_many(names.items())
        return table

    @property
    def nbytes(self) -> int:
        return self.forward.nbytes

    def _key_id(self, key: str) -> int:
        found = self.key_ids.get(key)
        if found is None:
            found = len(self.keys)
            self.key_ids[key] = found
            self.keys.append(key)
            if len(key) >= MIN_PREFIX:
                root = key[:MIN_PREFIX]
                self._by_root.setdefault(root, []).append(found)
                self._meets.pop(root, None)  # what meets this root's keys has changed
        return found

    def put_many(self, items: Iterable[tuple[str, Names]]) -> None:
        """(Re-)enter articles' names; an article's earlier row is forgotten."""
        for article_id, names in items:
            ids = np.fromiter((self._key_id(k) for k in names.keys), np.int32, len(names.keys))
            self.rows[article_id] = self.forward.append(ids, np.zeros(len(ids), np.uint16))
        if self.forward.rows > 2 * len(self.rows) + 1024:
            self.compact()  # rows left behind by updates and removals: at most half

    def remove(self, article_ids: Iterable[str]) -> None:
        for article_id in article_ids:
            self.rows.pop(article_id, None)

    def compact(self) -> None:
        """Drop the rows of removed or re-entered articles (their keys stay known)."""
        ids = list(self.rows)
        self.forward = self.forward.select(np.fromiter(self.rows.values(), np.int64, len(ids)))
        self.rows = {article_id: n for n, article_id in enumerate(ids)}

    def meeting(self, key: str) -> np.ndarray:
        """Sorted ids of the keys that meet key (empty when no article has one)."""
        if len(key) < MIN_PREFIX:
            found = self.key_ids.get(key)  # a short key meets only itself
            return np.array([] if found is None else [found], dtype=np.int32)
        root = key[:MIN_PREFIX]
        cached = self._meets.setdefault(root, {})
        own = self.key_ids.get(key, -1)
        if own >= 0 and own in cached:
            return cached[own]
        met = sorted(
            other
            for other in self._by_root.get(root, ())
            if self.keys[other].startswith(key) or key.startswith(self.keys[other])
        )
        ids = np.array(met, dtype=np.int32)
        if own >= 0:
            cached[own] = ids
        return ids

    def overlap(
        self, ranked: Sequence[tuple[float, str]], candidate_ids: Sequence[str]
    ) -> np.ndarray:
        """Per candidate: the weight of the ranked keys it meets over their total weight (as
        names.name_overlap, added up in the same order, so the same floats)."""
        out = np.zeros(len(candidate_ids))
        if not ranked or not len(candidate_ids):
            return out
        rows = np.fromiter(map(self.rows.get, candidate_ids, repeat(-1)), np.int64)
        known = np.flatnonzero(rows >= 0)
        keys, _, lengths = self.forward.gather(rows[known])
        owner = np.repeat(known, lengths)
        # bit i of a key: it meets the i-th ranked key; one lookup per candidate key (a scratch
        # array over the key ids, all zero again after)
        if len(self._bits) < len(self.keys):
            self._bits = np.zeros(2 * len(self.keys) + 1024, dtype=np.uint16)
        meeting = [self.meeting(key) for _, key in ranked]
        met = np.concatenate(meeting)
        flags = np.repeat(1 << np.arange(len(ranked), dtype=np.uint16), [len(m) for m in meeting])
        np.bitwise_or.at(self._bits, met, flags)
        bits = self._bits[keys]
        self._bits[met] = 0
        met_keys = bits != 0
        found = np.zeros(len(candidate_ids), dtype=np.uint16)  # the ranked keys each meets
        np.bitwise_or.at(found, owner[met_keys], bits[met_keys])
        # the weight of every set of ranked keys, added in ranked order as the loop adds them
        # (adding 0.0 changes nothing), so the same floats
        sets = np.arange(1 << len(ranked))
        weight_of = np.zeros(len(sets))
        for bit, (weight, _) in enumerate(ranked):
            weight_of += np.where(sets & (1 << bit), weight, 0.0)
        total: float = sum(w for w, _ in ranked)
        scaled: np.ndarray = weight_of[found] / total
        return scaled
