"""A query's BM25 scores at chosen rows, by either plan (QueryRows: the walk's postings summed
at the rows, ChosenSums; or the rows' forward lists, ForwardScores), equal to the bit the plain
rule written out: each matching query term's value with raw_scores' dtypes (idf float64, count
uint16, norm float32), added in query-term order from 0.0; 0 for a dead row and for -1. On
random corpora with rows in the compact segment, in the live one, removed and re-added; the data
is checked to be such that another order or dtype would give other floats."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from recommender.component_configs import LexicalListsConfig
from recommender.lexical import query_rows
from recommender.lexical.index import K1, LexicalIndex
from recommender.lexical.listed import ListedLexical
from recommender.lexical.query_rows import ForwardScores, QueryRows
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


class Plans:
    """Both plans' scores of a query at rows, through scratch arrays shared by every query (so
    what one read leaves in them is seen by the next)."""

    def __init__(self) -> None:
        self.sums = ChosenSums()
        self.forward = ForwardScores()

    def query(self, index: LexicalIndex, query_row: int) -> QueryRows:
        return QueryRows(index, query_row, self.sums, self.forward)

    def walk(self, index: LexicalIndex, query_row: int, rows: np.ndarray) -> list[float]:
        values: list[float] = self.query(index, query_row).walked(rows).tolist()
        return values

    def forward_read(self, index: LexicalIndex, query_row: int, rows: np.ndarray) -> list[float]:
        query = self.query(index, query_row)
        values: list[float] = self.forward.at(index, query.query, rows, query.spans(rows)).tolist()
        return values


def asked_rows(rng: np.random.Generator, index: LexicalIndex) -> np.ndarray:
    """Every row once, some twice, -1 twice, shuffled."""
    rows = np.concatenate([np.arange(-1, len(index.ids)), rng.integers(-1, len(index.ids), 30)])
    rng.shuffle(rows)
    return rows


@pytest.mark.parametrize("seed", range(4))
def test_both_plans_equal_the_plain_rule_to_the_bit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    index = random_corpus(rng)
    plans = Plans()
    queries = [row for row in range(len(index.ids)) if index.alive[row]][::9]
    assert any(row >= len(index.ids) - 60 for row in queries)  # live-segment queries too
    for query_row in queries:
        rows = asked_rows(rng, index)
        expected = [plain_score(index, query_row, row) for row in rows.tolist()]
        assert plans.walk(index, query_row, rows) == expected, query_row
        assert plans.forward_read(index, query_row, rows) == expected, query_row
        found, scores = index.raw_scores(query_row)  # the walk's sums: the same floats
        assert scores.tolist() == [plain_score(index, query_row, r) for r in found.tolist()]
    index.compact()  # one segment, no dead row: the postings' and the spans' shorter paths
    for query_row in range(0, len(index.ids), 23):
        rows = asked_rows(rng, index)
        expected = [plain_score(index, query_row, row) for row in rows.tolist()]
        assert plans.walk(index, query_row, rows) == expected, query_row
        assert plans.forward_read(index, query_row, rows) == expected, query_row


def test_an_empty_query_and_no_rows_score_nothing() -> None:
    index = random_corpus(np.random.default_rng(7))
    index.upsert_many([("lonely", ["only-here", "nowhere-else"], "")])
    plans = Plans()
    row = index.rows["lonely"]
    assert not len(index.weighted_query(row)[0])
    for read in (plans.walk, plans.forward_read):
        assert read(index, row, np.array([-1, 0, 1, row])) == [0.0] * 4
        assert read(index, 3, np.zeros(0, dtype=np.int64)) == []
        assert read(index, 3, np.array([-1])) == [0.0]


def test_the_cheaper_plan_is_read_and_a_walk_taken_is_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    index = random_corpus(np.random.default_rng(5))
    plans = Plans()
    rows = asked_rows(np.random.default_rng(6), index)
    query_row = max(range(300), key=lambda row: plans.query(index, row).walk_postings)
    expected = [plain_score(index, query_row, row) for row in rows.tolist()]
    walk = plans.query(index, query_row).walk_postings
    # the walk: costs less than any forward read
    monkeypatch.setattr(query_rows, "FORWARD_FIXED", walk)
    query = plans.query(index, query_row)
    assert query.at(rows).tolist() == expected and query.postings is not None
    # the forward read: its rows' terms cost less than the walk's postings
    monkeypatch.setattr(query_rows, "FORWARD_FIXED", 0)
    monkeypatch.setattr(query_rows, "FORWARD_PER_TERM", (walk - 1) / query.spans(rows)[1].sum())
    fresh = plans.query(index, query_row)
    assert fresh.at(rows).tolist() == expected and fresh.postings is None
    assert query.at(rows).tolist() == expected  # once taken, the walk is read
    monkeypatch.setattr(query_rows, "FORWARD_PER_TERM", (walk + 1) / query.spans(rows)[1].sum())
    assert fresh.at(rows).tolist() == expected and fresh.postings is not None


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


@pytest.mark.parametrize("plan", ["walk", "forward"])
@pytest.mark.parametrize("seed", range(3))
def test_listed_reads_equal_the_walks_scores(
    seed: int, plan: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ListedLexical scores its list and any candidates by the query's plan: the same floats as
    raw_scores' sums read at those rows, divided by the best listed one; neighbours ranks them
    (best first, ties by row, 0s left out)."""
    monkeypatch.setattr(query_rows, "FORWARD_FIXED", 10**9 if plan == "walk" else -1)
    monkeypatch.setattr(query_rows, "FORWARD_PER_TERM", 0.0)
    rng = np.random.default_rng(seed)
    index = random_corpus(rng)
    listed = ListedLexical(index, LexicalListsConfig(depth=20))
    listed.compute_all()
    for query_row in [row for row in range(len(index.ids)) if index.alive[row]][::11]:
        article_id = index.ids[query_row]
        assert article_id is not None and listed.lists is not None
        found, scores = index.raw_scores(query_row)
        score_of = dict(zip(found.tolist(), scores.tolist(), strict=True))
        entries = sorted(
            row for row in listed.lists.entries(query_row).tolist() if index.alive[row]
        )
        top = max((score_of.get(row, 0.0) for row in entries), default=0.0)
        ranked = sorted(entries, key=lambda row: (-score_of.get(row, 0.0), row))
        expected_ids = [(index.ids[row], score_of.get(row, 0.0) / top) for row in ranked[:12]]
        assert listed.neighbours(article_id, 12) == [(i, v) for i, v in expected_ids if v > 0]
        rows = asked_rows(rng, index)
        expected = relative(np.array([score_of.get(row, 0.0) for row in rows.tolist()]), top)
        assert listed.similarities_at(article_id, rows).tolist() == expected.tolist()
