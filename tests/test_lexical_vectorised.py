"""The vectorised lexical reads equal the per-candidate implementations they replace, on random
data: name overlap (NameTable against names.name_overlap) and BM25 scores of given rows
(ChosenSums read at rows against the postings walk of the live search and a plain BM25)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest

from recommender.lexical import index as index_module
from recommender.lexical.index import (
    _NEG_LOG_TF,
    K1,
    MAX_DF,
    MIN_DOCS_FOR_MAX_DF,
    QUERY_TERMS,
    B,
    LexicalIndex,
)
from recommender.lexical.name_table import NameTable
from recommender.lexical.names import Names, name_overlap, ranked_keys
from recommender.lexical.row_sums import ChosenSums
from recommender.lexical.search import LexicalSearch

# few letters: random keys share roots and prefixes often, which is what the rule is about
LETTERS = "abcde"


def random_key(rng: np.random.Generator) -> str:
    return "".join(rng.choice(list(LETTERS), size=int(rng.integers(2, 8))))


def random_names(rng: np.random.Generator) -> Names:
    names = [random_key(rng) for _ in range(int(rng.integers(0, 6)))]
    plain = [random_key(rng) for _ in range(int(rng.integers(0, 6)))]
    probe = Names.of(names, plain)
    salience = rng.uniform(1.0, 3.0, size=len(probe.keys)).tolist()
    return Names.of(probe.names, probe.plain, salience)


@pytest.mark.parametrize("seed", range(5))
def test_name_table_overlap_equals_the_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    names = {f"a{i}": random_names(rng) for i in range(300)}
    table = NameTable.of(names)
    # updates and removals after the table was built, as the service makes them
    for i in rng.choice(300, size=60, replace=False).tolist():
        if i % 2:
            names[f"a{i}"] = random_names(rng)
            table.put_many([(f"a{i}", names[f"a{i}"])])
        else:
            names.pop(f"a{i}")
            table.remove([f"a{i}"])
    rarity = {key: float(rng.uniform(0.0, 5.0)) for n in names.values() for key in n.keys}

    def idf(keys: Sequence[str]) -> list[float]:
        return [rarity.get(k, 6.0) for k in keys]

    checked = 0
    for query_id in [f"a{i}" for i in range(0, 300, 7)]:
        candidates = [f"a{i}" for i in rng.choice(320, size=150).tolist()]  # some unknown
        query = names.get(query_id)
        expected = name_overlap(query, [names.get(c) for c in candidates], idf)
        got = table.overlap(ranked_keys(query, idf), candidates)
        assert got.tolist() == expected  # the same floats, not just close
        checked += sum(v > 0 for v in expected)
    assert checked > 50  # the comparison saw real overlaps, not only zeros


def test_name_table_meets_as_names_do() -> None:
    table = NameTable.of({"x": Names.of(["cuba", "cubaans", "eu", "euro", "cub"])})
    assert {table.keys[i] for i in table.meeting("cubaan")} == {"cuba", "cubaans"}
    assert {table.keys[i] for i in table.meeting("cubaanz")} == {"cuba"}
    assert {table.keys[i] for i in table.meeting("eu")} == {"eu"}
    assert table.meeting("cu") == ()
    # a key arriving later joins what meets its root
    table.put_many([("y", Names.of(["cubaa"]))])
    assert {table.keys[i] for i in table.meeting("cubaanz")} == {"cuba", "cubaa"}
    # a short key asked for before any article has it is not remembered as meeting nothing
    assert table.meeting("vs") == ()
    table.put_many([("z", Names.of(["vs"]))])
    assert {table.keys[i] for i in table.meeting("vs")} == {"vs"}


def random_index(rng: np.random.Generator, docs: int, vocabulary: int = 400) -> LexicalIndex:
    index = LexicalIndex()
    weights = 1.0 / np.arange(1, vocabulary + 1)  # Zipf: common and rare terms, as in text
    weights /= weights.sum()
    batch = []
    for i in range(docs):
        length = int(rng.integers(5, 80))
        terms = [f"t{t}" for t in rng.choice(vocabulary, size=length, p=weights).tolist()]
        batch.append((f"d{i}", terms, ""))
    index.upsert_many(batch)
    return index


def test_name_table_overlap_equals_the_loop_after_compaction() -> None:
    """Rows re-entered until the table compacts (its empty row for unknown ids kept)."""
    rng = np.random.default_rng(11)
    names = {f"a{i}": random_names(rng) for i in range(200)}
    table = NameTable.of(names)
    rows_before = table.forward.rows
    for _ in range(8):
        for i in range(200):
            names[f"a{i}"] = random_names(rng)
        table.put_many(names.items())
    table.remove(["a3", "a4"])
    del names["a3"], names["a4"]
    assert table.forward.rows < rows_before + 8 * 200  # it compacted
    assert table.forward.row(0)[0].size == 0  # the empty row survived

    def idf(keys: Sequence[str]) -> list[float]:
        return [1.0 + len(k) for k in keys]

    candidates = [f"a{i}" for i in range(210)]  # a3, a4 and a200.. unknown
    for query_id in ("a0", "a5", "a77", "a150"):
        query = names[query_id]
        expected = name_overlap(query, [names.get(c) for c in candidates], idf)
        assert table.overlap(ranked_keys(query, idf), candidates).tolist() == expected


def test_weighted_query_is_row_query_with_its_idf() -> None:
    index = random_index(np.random.default_rng(4), 400)
    for row in range(0, 400, 9):
        terms, idf = index.weighted_query(row)
        assert terms.tolist() == index.row_query(row).tolist()
        assert idf.tolist() == index.idf(terms).tolist()


def plain_bm25(index: LexicalIndex, query_row: int, row: int) -> float:
    """BM25 written out term by term: the reference the arrays must agree with."""
    if not index.alive[row]:
        return 0.0
    avgdl = index.total_len / index.alive_count
    terms, counts = index.forward.row(row)
    tf_of = dict(zip(terms.tolist(), counts.tolist(), strict=True))
    score = 0.0
    for term in index.row_query(query_row).tolist():
        tf = tf_of.get(term, 0)
        df = int(index.df[term])
        idf = math.log(1.0 + (index.alive_count - df + 0.5) / (df + 0.5))
        norm = K1 * (1.0 - B + B * float(index.doc_len[row]) / avgdl)
        score += idf * tf * (K1 + 1.0) / (tf + norm)
    return score


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("compacted", [False, True])
def test_row_scores_equal_the_postings_walk_and_plain_bm25(seed: int, compacted: bool) -> None:
    rng = np.random.default_rng(seed)
    index = random_index(rng, 600)
    # a live segment, removed rows and an update on top of the compact one
    index.remove([f"d{i}" for i in range(0, 600, 13)])
    index.upsert_many([(f"d{i}", ["t1", "t7", f"t{300 + i}"], "") for i in range(1, 40, 3)])
    if compacted:  # one segment, no live part: the postings' shorter path
        index.compact()
        assert not index.live
    sums = ChosenSums()
    for query_id in [f"d{i}" for i in range(1, 600, 17) if f"d{i}" in index.rows]:
        row = index.rows[query_id]
        rows, scores = index.raw_scores(row)
        postings, size = index.query_values(*index.weighted_query(row)), len(index.ids)
        assert sums.at(*postings, rows, size).tolist() == scores.tolist()  # the same floats
        asked = rng.choice(len(index.ids), size=40)  # dead rows, repeats and rows sharing none
        expected = [plain_bm25(index, row, r) for r in asked.tolist()]
        np.testing.assert_allclose(sums.at(*postings, asked, size), expected, rtol=1e-5)
        others = np.setdiff1d(np.arange(-1, len(index.ids)), rows)  # -1: an unknown article
        assert not sums.at(*postings, others, size).any()


def test_term_weight_table_equals_the_log_for_every_count() -> None:
    """weighted_query reads 1 + ln(tf) from a table: the same floats as the log of a query's
    counts, whatever the array's length."""
    rng = np.random.default_rng(0)
    every = np.arange(1, 1 << 16, dtype=np.uint16)
    shorts = [rng.integers(1, 1 << 16, n, np.uint16) for n in range(1, 40)]
    for counts in [every, every[3::7], *shorts]:
        direct = 1.0 + np.log(counts, dtype=np.float64)
        assert (-_NEG_LOG_TF.take(counts)).view(np.int64).tolist() == direct.view(np.int64).tolist()


def test_key_idf_equals_the_index_idf() -> None:
    """LexicalSearch.key_idf's Python ratios give the floats of the index's array IDF."""
    rng = np.random.default_rng(1)
    search = LexicalSearch(index=random_index(rng, 300))
    search.index.remove([f"d{i}" for i in range(0, 300, 9)])
    known = list(search.index.vocabulary)
    keys = [*known, "never-seen"]
    ids = np.array([search.index.vocabulary[k] for k in known])
    got = search.key_idf(keys)
    assert got[:-1] == search.index.idf(ids).tolist()
    assert got[-1] == float(np.log1p(len(search.index) + 0.5))


def plain_query(index: LexicalIndex, row: int, budget: float) -> list[int]:
    """row_query written out: useful terms by tf-idf (ties by place), cut at the budget."""
    n, df_of = index.alive_count, index.df
    common = MAX_DF * n if n >= MIN_DOCS_FOR_MAX_DF else math.inf
    terms, counts = index.forward.row(row)
    weighed = []
    for place, (term, tf) in enumerate(zip(terms.tolist(), counts.tolist(), strict=True)):
        df = int(df_of[term])
        if 2 <= df <= common:
            idf = float(np.log1p((n - df + 0.5) / (df + 0.5)))
            weighed.append((-(1.0 + float(np.log(tf))) * idf, place, term, df))
    kept: list[int] = []
    spent = 0
    for _, _, term, df in sorted(weighed)[:QUERY_TERMS]:
        spent += df
        if kept and spent > budget:
            break
        kept.append(term)
    return kept


@pytest.mark.parametrize("budget", [8_000, 60, 25])
def test_row_query_equals_the_plain_rule(budget: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through a live segment (new terms past the compact one) and budgets that cut."""
    monkeypatch.setattr(index_module, "POSTINGS_BUDGET", budget)
    index = random_index(np.random.default_rng(5), 300)
    index.upsert_many([(f"n{i}", ["t1", "t5", f"new{i}", f"new{i + 1}"], "") for i in range(9)])
    assert index.live and len(index.vocabulary) >= len(index.base.indptr)
    cut = 0
    for row in [*range(0, 300, 7), *range(300, 309)]:
        expected = plain_query(index, row, budget)
        assert index.row_query(row).tolist() == expected
        cut += len(expected) < len(plain_query(index, row, math.inf))
    assert (cut > 0) == (budget < 8_000)
