"""The query's ranked keys equal the rule written out plainly (each key's IDF x salience, a plain
headline word counting half, best first, ties by key, none when nothing weighs), and
LexicalSearch.key_idf gives each key the index's own IDF (the rarest for a key it never saw),
whether every key is known, some are or none, the same floats to the last bit."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from recommender.lexical import LexicalSearch
from recommender.lexical.index import LexicalIndex
from recommender.lexical.names import PLAIN_TERM_WEIGHT, QUERY_NAMES, Names, ranked_keys


def plain_ranked(query: Names | None, idf: dict[str, float]) -> list[tuple[float, str]]:
    if query is None or not query.keys:
        return []
    named = set(query.names)
    weighed = []
    for key, salience in zip(query.keys, query.salience, strict=True):
        factor = 1.0 if key in named else PLAIN_TERM_WEIGHT
        weighed.append((idf[key] * salience * factor, key))
    best = sorted(weighed, reverse=True)[:QUERY_NAMES]
    return best if sum(w for w, _ in best) > 0 else []


def random_query(rng: np.random.Generator, keys: list[str]) -> Names:
    chosen = rng.choice(keys, size=int(rng.integers(0, 14)), replace=False).tolist()
    cut = int(rng.integers(0, len(chosen) + 1))
    probe = Names.of(chosen[:cut], chosen[cut:])
    salience = rng.choice([1.0, 1.0, 1.5, 2.0], size=len(probe.keys)).tolist()
    return Names.of(probe.names, probe.plain, salience)


@pytest.mark.parametrize("seed", range(3))
def test_ranked_keys_follow_the_plain_rule(seed: int) -> None:
    rng = np.random.default_rng(seed)
    keys = [f"k{i}" for i in range(30)]
    # few distinct values, so that weights tie (broken by key); some zero, some negative
    idf = dict(zip(keys, rng.choice([-1.0, 0.0, 0.5, 1.25, 3.0], size=len(keys)), strict=True))
    asked: list[Sequence[str]] = []

    def key_idf(asked_keys: Sequence[str]) -> list[float]:
        asked.append(asked_keys)
        return [float(idf[k]) for k in asked_keys]

    nothing = 0
    for _ in range(400):
        query = random_query(rng, keys)
        expected = plain_ranked(query, idf)
        assert ranked_keys(query, key_idf) == expected
        nothing += not expected and bool(query.keys)
    assert nothing > 0  # queries whose keys weigh nothing were met
    assert all(list(a) == list(dict.fromkeys(a)) for a in asked)  # each key asked once
    assert ranked_keys(None, key_idf) == [] and ranked_keys(Names.of([]), key_idf) == []


def test_key_idf_is_each_keys_index_idf() -> None:
    rng = np.random.default_rng(5)
    index = LexicalIndex()
    index.upsert_many(
        [(f"d{i}", rng.choice(40, size=12).astype(str).tolist(), "") for i in range(60)]
    )
    index.remove(["d3", "d4"])
    search = LexicalSearch(index=index)
    rarest = float(np.log1p(len(index) + 0.5))

    def alone(key: str) -> float:
        term = index.vocabulary.get(key)
        return rarest if term is None else float(index.idf(np.array([term]))[0])

    known = list(index.vocabulary)
    for keys in [known, known[::-3], ["unseen", *known[:5]], known[:4] + ["unseen"], ["x", "y"]]:
        got = search.key_idf(keys)
        assert np.array(got).view(np.int64).tolist() == [
            np.float64(alone(k)).view(np.int64) for k in keys
        ]
    empty = LexicalSearch()
    assert empty.key_idf(["a", "b"]) == [float(np.log1p(0.5))] * 2
