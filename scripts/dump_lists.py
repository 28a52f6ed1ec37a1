"""Dump served lists for comparing two revisions: a speed change must leave every list the same.

Ranks thousands of Lees-ook lists (plain, by section, by age, with an exclusion), Populair lists
with a context, and one candidate set on the benchmark corpus of scripts/bench_serving.py (real
Dutch titles, fixed vectors, clicks and co-reads, a fixed clock), with the served weights and
settings, and writes each list's ids, scores (repr: every bit) and reasons as JSON. Run it on
both revisions and compare the files with `cmp`: byte-identical or the change is not exact.

Usage: python scripts/dump_lists.py OUT.json [--n 10000] [--ids 1500]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

# the corpus's date fixed, so every run ranks the same lists (bench_serving dates it to the run)
os.environ.setdefault("BENCH_NOW", "1763000000")
import bench_serving as bench  # noqa: E402

from recommender.config import Settings  # noqa: E402
from recommender.index import choose_kind  # noqa: E402
from recommender.ranking import Ranker  # noqa: E402
from recommender.ranking.ranker_file import served_weights  # noqa: E402

SECTION = "sport"  # one of bench_serving.SECTIONS


def ranker_of(parts: bench.Parts, settings: Settings) -> Ranker:
    """The ranker the service builds over these parts (served weights, ranking settings)."""
    assert parts.index is not None
    return Ranker(
        parts.index,
        parts.catalog,
        parts.popularity,
        served_weights(settings),
        settings.ranking_params(),
        lexical=parts.lexical,
        coreads=parts.coreads,
    )


def dump(ranker: Ranker, n: int, count: int) -> list[Any]:
    rng = np.random.default_rng(42)
    lists: list[Any] = []
    for i in rng.integers(0, n, count).tolist():
        article = bench.article_id(i)
        asks: list[dict[str, Any]] = [
            {},
            {"section": SECTION},
            {"max_age_days": 3.0},
            {"exclude": {bench.article_id(i + 1)}},
        ]
        for ask in asks:
            ranked = ranker.related(article, 6, now=bench.NOW, **ask)
            items = [
                [
                    item.card.id,
                    repr(item.score),
                    sorted((k, repr(v)) for k, v in item.reasons.items()),
                ]
                for item in ranked.items
            ]
            lists.append([article, repr(ask), items])
    for i in rng.integers(0, n, max(1, count // 15)).tolist():
        ranked = ranker.popular(6, context=bench.article_id(i), now=bench.NOW)
        lists.append(["popular", i, [[item.card.id, repr(item.score)] for item in ranked.items]])
    found = ranker.candidates(bench.article_id(7), now=bench.NOW)
    assert found is not None
    lists.append(
        ["candidates", sorted(zip(found.ids, map(repr, found.values.tolist()), strict=True))]
    )
    return lists


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--n", type=int, default=10_000, help="articles in the corpus")
    parser.add_argument("--ids", type=int, default=1_500, help="query articles (4 lists each)")
    args = parser.parse_args()
    settings = Settings(_env_file=None)
    parts = bench.Parts(
        args.n, choose_kind(settings.index_type, args.n, settings.hnsw_threshold), True
    )
    lists = dump(ranker_of(parts, settings), args.n, args.ids)
    args.out.write_text(json.dumps(lists))
    print(f"wrote {len(lists)} lists to {args.out}")


if __name__ == "__main__":
    main()
