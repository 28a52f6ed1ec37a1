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
from recommender.lexical.key_grid import KeyGrid
from recommender.lexical.names import MIN_PREFIX, Names

EMPTY_ROW = 0  # the row of an article without names (and of an unknown id)
PYTHON_KEYS = 6  # _shares: sets of up to this many keys are summed in Python floats


class NameTable:
    """Key ids per article row, in step with a dict of Names by article id."""

    def __init__(self) -> None:
        self.key_ids: dict[str, int] = {}
        self.keys: list[str] = []
        self._by_root: dict[str, list[int]] = {}  # root → ids of the keys of 4+ letters
        self._meets: dict[str, tuple[int, ...]] = {}  # key → ids of the keys it meets
        self._met_roots: dict[str, list[str]] = {}  # root → the keys of 4+ letters in _meets
        self.forward = _with_empty_row(Forward())
        self.grid = KeyGrid.of(self.forward)  # the same rows, read by overlap
        self.rows: dict[str, int] = {}  # article id → row (row 0: no keys, for unknown ids)
        self.version = 0  # writes so far (puts, removals, compactions)
        self.compactions = 0  # rows renumbered so far

    @classmethod
    def of(cls, names: dict[str, Names]) -> NameTable:
        table = cls()
        table.put_many(names.items())
        return table

    @property
    def nbytes(self) -> int:
        return self.forward.nbytes + self.grid.nbytes

    def _key_id(self, key: str) -> int:
        found = self.key_ids.get(key)
        if found is None:
            found = len(self.keys)
            self.key_ids[key] = found
            self.keys.append(key)
            if len(key) >= MIN_PREFIX:
                root = key[:MIN_PREFIX]
                self._by_root.setdefault(root, []).append(found)
                for met in self._met_roots.pop(root, ()):  # what meets them has changed
                    del self._meets[met]
        return found

    def put_many(self, items: Iterable[tuple[str, Names]]) -> None:
        """(Re-)enter articles' names; an article's earlier row is forgotten."""
        for article_id, names in items:
            ids = np.fromiter((self._key_id(k) for k in names.keys), np.int32, len(names.keys))
            self.rows[article_id] = self.forward.append(ids, np.zeros(len(ids), np.uint16))
            self.grid.append(ids)
        self.version += 1
        if self.forward.rows > 2 * len(self.rows) + 1025:
            self.compact()  # rows left behind by updates and removals: at most half

    def remove(self, article_ids: Iterable[str]) -> None:
        for article_id in article_ids:
            self.rows.pop(article_id, None)
        self.version += 1

    def compact(self) -> None:
        """Drop the rows of removed or re-entered articles (their keys stay known)."""
        ids = list(self.rows)
        kept = np.fromiter(self.rows.values(), np.int64, len(ids))
        self.forward = self.forward.select(np.concatenate([[EMPTY_ROW], kept]))
        self.grid = KeyGrid.of(self.forward)
        self.rows = {article_id: n for n, article_id in enumerate(ids, start=1)}
        self.version += 1
        self.compactions += 1

    def meeting(self, key: str) -> tuple[int, ...]:
        """Ids of the keys that meet key, ascending (empty when no article has one)."""
        met = self._meets.get(key)  # one probe: a request asks for up to eight keys
        if met is not None:
            return met
        if len(key) < MIN_PREFIX:
            found = self.key_ids.get(key)  # a short key meets only itself
            if found is None:
                return ()  # not kept: the key may arrive later
            met = self._meets[key] = (found,)
            return met
        root = key[:MIN_PREFIX]
        met = self._meets[key] = tuple(
            sorted(
                other
                for other in self._by_root.get(root, ())
                if self.keys[other].startswith(key) or key.startswith(self.keys[other])
            )
        )
        self._met_roots.setdefault(root, []).append(key)  # until a key with this root arrives
        return met

    def overlap(
        self, ranked: Sequence[tuple[float, str]], candidate_ids: Sequence[str]
    ) -> np.ndarray:
        """Per candidate: the weight of the ranked keys it meets over their total weight (as
        names.name_overlap, added up in the same order, so the same floats)."""
        rows = np.fromiter(map(self.rows.get, candidate_ids, repeat(EMPTY_ROW)), np.int64)
        return self.overlap_at(ranked, rows)

    def overlap_at(self, ranked: Sequence[tuple[float, str]], rows: np.ndarray) -> np.ndarray:
        """overlap of candidates given by row (EMPTY_ROW for one without names)."""
        # bit i of a key: it meets the i-th ranked key (a handful of keys: a dict, not arrays)
        flags: dict[int, int] = {}
        for bit, (_, key) in enumerate(ranked):
            for met in self.meeting(key):
                flags[met] = flags.get(met, 0) | 1 << bit
        if not flags or not len(rows):
            return np.zeros(len(rows))
        found = self.grid.bits_of(rows, flags)  # the ranked keys each candidate meets
        shares: np.ndarray = _shares(ranked).take(found)  # set 0 (nothing met): 0.0
        return shares


def _shares(ranked: Sequence[tuple[float, str]]) -> np.ndarray:
    """The share of every set of ranked keys (bit i: the i-th; at most 2^8 sets) in their
    total weight. A set weighs what it weighs without its last key plus that key: the weights
    added in ranked order, as names.name_overlap adds them, so the same floats (and the set of
    all keys, the last, weighs their total). The first keys' sets in Python floats (a query
    ranks ~4 keys: 16 sets, cheaper than a numpy step a key), the rest's by doubling the
    array: 42 -> 23 us at 4 keys, 60 -> 53 at 8 (alternated, on a loaded machine)."""
    weight = [0.0]
    for w, _ in ranked[:PYTHON_KEYS]:
        weight += [total + w for total in weight]
    table = np.array(weight)
    for w, _ in ranked[PYTHON_KEYS:]:
        table = np.concatenate((table, table + w))
    shares: np.ndarray = table / table[-1]
    return shares


def _with_empty_row(forward: Forward) -> Forward:
    forward.append(np.zeros(0, np.int32), np.zeros(0, np.uint16))
    return forward
