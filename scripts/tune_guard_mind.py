"""Cross-corpus guard for a tuned model: topical precision on the MIND subset (English news)
by pure similarity, base model vs tuned model. A model tuned on one site's articles must not
get worse at topics elsewhere.

For every MIND article with Wikidata entities (resp. a subcategory), its 5 nearest articles
by cosine; P@5 = share of them that share an entity (resp. the subcategory). Ground truth as
in the evaluation (recommender.evaluation.protocols.Topics).

    .venv/bin/python scripts/tune_guard_mind.py --tuned-root ../tune-dpg/models/tuned

Writes its table into BENCHMARKS.md between the tune_guard markers (--no-write: print only).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_report import cpu_description, write_section  # noqa: E402

MIND = ROOT.parent / "shared" / "data" / "mind-subset"
MARK = "tune_guard"
K = 5


def topical_precision(model: str, tuned_root: Path, workdir: Path) -> dict[str, Any]:
    from recommender.catalog import Card, Catalog
    from recommender.config import Settings
    from recommender.embedding import create_embedder, embed_articles
    from recommender.evaluation.data import load_mind
    from recommender.evaluation.metrics import precision_at_k
    from recommender.evaluation.protocols import Topics
    from recommender.store import open_store

    data = load_mind(MIND / "news.tsv", MIND / "behaviors.tsv")
    settings = Settings(data_dir=workdir, models_dir=tuned_root.parent, model_name=model)
    embedder = create_embedder(settings)
    store = open_store(settings)  # the embedding cache, kept in workdir between runs
    embedded = embed_articles(store, embedder, data.articles, settings.embed_max_words)
    store.close()
    catalog = Catalog()
    for article in data.articles:
        catalog.put(Card.of(article))
    topics = Topics(catalog, embedded.ids)
    scores = embedded.vectors @ embedded.vectors.T
    np.fill_diagonal(scores, -np.inf)
    entity: list[float] = []
    sub: list[float] = []
    for row, article_id in enumerate(embedded.ids):
        nearest = [embedded.ids[i] for i in np.argsort(-scores[row], kind="stable")[:K]]
        if (mates := topics.entity_mates(article_id)) is not None:
            entity.append(precision_at_k(nearest, mates, K))
        if (mates := topics.sub_mates(article_id)) is not None:
            sub.append(precision_at_k(nearest, mates, K))
    return {
        "model": embedder.name,
        "entity": np.array(entity),
        "entity_p5": float(np.mean(entity)),
        "entity_n": len(entity),
        "sub": np.array(sub),
        "sub_p5": float(np.mean(sub)),
        "sub_n": len(sub),
    }


def paired_change(base: np.ndarray, tuned: np.ndarray) -> str:
    """Mean per-article change with a 95% interval (the same articles under both models)."""
    diff = tuned - base
    half = 1.96 * diff.std(ddof=1) / np.sqrt(len(diff))
    return f"{diff.mean():+.4f} (95% CI {diff.mean() - half:+.4f} to {diff.mean() + half:+.4f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", default="bundled:all-MiniLM-L6-v2")
    parser.add_argument("--tuned", default="tuned:current")
    parser.add_argument("--tuned-root", type=Path, default=ROOT / "models" / "tuned")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if not (MIND / "news.tsv").is_file():
        raise SystemExit(f"{MIND} is missing: the guard needs the MIND subset")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="tune-guard-"))
    rows = [topical_precision(m, args.tuned_root, workdir) for m in (args.base, args.tuned)]
    lines = [
        "## Cross-corpus guard for tuned models (scripts/tune_guard_mind.py)",
        "",
        f"{cpu_description()}; {datetime.now(UTC):%Y-%m-%d}. Command: "
        f"`python scripts/tune_guard_mind.py {' '.join(sys.argv[1:])}`.",
        "",
        f"MIND subset (English), pure cosine similarity, P@{K} over articles with entities "
        "(entity) or a subcategory (subcategory).",
        "",
        f"| model | entity P@{K} | subcategory P@{K} |",
        "|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['model']} | {row['entity_p5']:.4f} (n={row['entity_n']}) "
            f"| {row['sub_p5']:.4f} (n={row['sub_n']}) |"
        )
    base, tuned = rows
    ratio = (
        f"tuned / base: entity {tuned['entity_p5'] / base['entity_p5']:.3f}, "
        f"subcategory {tuned['sub_p5'] / base['sub_p5']:.3f}. Per-article change, paired: "
        f"entity {paired_change(base['entity'], tuned['entity'])}, "
        f"subcategory {paired_change(base['sub'], tuned['sub'])}."
    )
    lines += ["", ratio]
    print("\n".join(lines))
    if not args.no_write:
        write_section(ROOT / "BENCHMARKS.md", MARK, "\n".join(lines))


if __name__ == "__main__":
    main()
