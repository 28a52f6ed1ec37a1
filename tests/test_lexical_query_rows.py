"""A query's BM25 scores at chosen rows (ChosenSums over LexicalIndex.query_values) equal, to the
bit, the plain rule written out: each matching query term's value with raw_scores' dtypes (idf
float64, count uint16, norm float32), added in query-term order from 0.0; 0 for a dead row and
for -1. On random corpora with rows in the compact segment, in the live one, removed and
re-added; the data is checked to be such that another order or dtype would give other floats."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from recommender.component_configs import LexicalListsConfig
from recommender.lexical.index import K1, LexicalIndex
from recommender.lexical.listed import ListedLexical
from recommender.lexical.row_sums import ChosenSums, relative

Parts = list[tuple[float, int, np.float32]]  # a matching term's idf, count and the row's norm


def random_corpus(rng: np.random.Generator, topics: int = 25) -> LexicalIndex:
    """Stories on a few topics (a query matches a row of its topic by many terms, with counts
    above 1) plus common words: a compacted base, removals there, a live segment on top with
    removals and re-added articles (rows of each segment, dead rows of both)."""
    zipf = 1.0 / np.arange(1, 201)

    def doc(name: str) -> tuple[str, list[str], str]:
        topic = int(rng.integers(topics))
        own = [f"topic{topic}w{w}" for w in rng.integers(0, 30, size=int(rng.integers(1, 60)))]
        common = rng.choice(200, size=int(rng.integers(0, 60)), p=zipf / zipf.sum())
        return name, own + [f"w{w}" for w in common], ""

    index = LexicalIndex()
    index.upsert_many([doc(f"d{i}") for i in range(300)])
    index.compact()
    index.remove([f"d{i}" for i in range(0, 300, 7)])
    index.upsert_many([doc(f"d{i}") for i in range(300, 360)] + [doc("d5"), doc("d9")])
    index.remove(["d301", "d9"])
    assert index.live and index.alive_count < len(index.ids)
    return index


def parts(index: LexicalIndex, query_row: int, row: int) -> Parts:
    """The (idf, count, norm) of each query term row holds, in query-term order."""
    terms, idf = index.weighted_query(query_row)
    row_terms, counts = index.forward.row(row)
    count_of = dict(zip(row_terms.tolist(), counts.tolist(), strict=True))
    norm = index.norm(np.array([row]))[0]
    return [
        (weight, count_of[term], norm)
        for term, weight in zip(terms.tolist(), idf.tolist(), strict=True)
        if term in count_of
    ]


def value(weight: float, count: int, norm: np.float32) -> float:
    """One posting's BM25 value: count plus norm in float32 (as uint16 + float32 is), the rest
    in float64."""
    return weight * count * (K1 + 1.0) / float(np.float32(count) + norm)


def plain_score(index: LexicalIndex, query_row: int, row: int) -> float:
    if row < 0 or not index.alive[row]:
        return 0.0
    total = 0.0
    for part in parts(index, query_row, row):
        total += value(*part)
    return total


def chosen(index: LexicalIndex, sums: ChosenSums, query_row: int, rows: np.ndarray) -> list[float]:
    values: list[float] = sums.at(*index.query_values(query_row), rows, len(index.ids)).tolist()
    return values


def asked_rows(rng: np.random.Generator, index: LexicalIndex) -> np.ndarray:
    """Every row once, some twice, -1 twice, shuffled."""
    rows = np.concatenate([np.arange(-1, len(index.ids)), rng.integers(-1, len(index.ids), 30)])
    rng.shuffle(rows)
    return rows


@pytest.mark.parametrize("seed", range(4))
def test_chosen_sums_equal_the_plain_rule_to_the_bit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    index = random_corpus(rng)
    sums = ChosenSums()
    queries = [row for row in range(len(index.ids)) if index.alive[row]][::9]
    assert any(row >= len(index.ids) - 60 for row in queries)  # live-segment queries too
    for query_row in queries:
        rows = asked_rows(rng, index)
        expected = [plain_score(index, query_row, row) for row in rows.tolist()]
        assert chosen(index, sums, query_row, rows) == expected, query_row
        found, scores = index.raw_scores(query_row)  # the walk's sums: the same floats
        assert scores.tolist() == [plain_score(index, query_row, r) for r in found.tolist()]


def test_an_empty_query_and_no_rows_score_nothing() -> None:
    index = random_corpus(np.random.default_rng(7))
    index.upsert_many([("lonely", ["only-here", "nowhere-else"], "")])
    sums = ChosenSums()
    row = index.rows["lonely"]
    assert not len(index.weighted_query(row)[0])
    assert chosen(index, sums, row, np.array([-1, 0, 1, row])) == [0.0] * 4
    assert chosen(index, sums, 3, np.zeros(0, dtype=np.int64)) == []


def test_the_corpus_tells_the_summation_order_and_the_dtypes_apart() -> None:
    """Guards of the test above: on its corpora another order of the same values, or the norm
    in float64, gives other floats for some rows (so that test would fail on either)."""
    index = random_corpus(np.random.default_rng(0))
    found = [parts(index, q, r) for q in range(0, 300, 9) for r in range(0, 360, 5)]
    found = [p for p in found if len(p) >= 3]

    def differs(other: Callable[[Parts], float]) -> bool:
        return any(other(p) != sum((value(*part) for part in p), 0.0) for p in found)

    assert differs(lambda p: sum((value(*part) for part in reversed(p)), 0.0))
    assert differs(lambda p: float(np.sum([value(*part) for part in p])))  # pairwise
    assert differs(lambda p: sum(w * c * (K1 + 1.0) / (c + float(n)) for w, c, n in p))


@pytest.mark.parametrize("seed", range(3))
def test_listed_reads_equal_the_walks_scores(seed: int) -> None:
    """ListedLexical scores its list and any candidates from the query's postings: the same
    floats as raw_scores' sums read at those rows, divided by the best listed one."""
    rng = np.random.default_rng(seed)
    index = random_corpus(rng)
    listed = ListedLexical(index, LexicalListsConfig(depth=20))
    listed.compute_all()
    for query_row in [row for row in range(len(index.ids)) if index.alive[row]][::11]:
        article_id = index.ids[query_row]
        assert article_id is not None
        found, scores = index.raw_scores(query_row)
        score_of = dict(zip(found.tolist(), scores.tolist(), strict=True))
        assert listed.lists is not None
        entries = listed.lists.entries(query_row).tolist()
        top = max((score_of.get(row, 0.0) for row in entries), default=0.0)
        rows = asked_rows(rng, index)
        expected = relative(np.array([score_of.get(row, 0.0) for row in rows.tolist()]), top)
        assert listed.similarities_at(article_id, rows).tolist() == expected.tolist()
