"""The seed page's Lees-ook check: where do the four Cuba stories the real site showed under the
seed article (../shared/seed/example-article-page.txt) rank among the DPG articles, with the
bundled model and with a tuned one?

The four stories go in as articles with only their headline; the seed article goes in with
its title and text. Two rankings per model: pure cosine similarity to the seed (rank among the
1,434 DPG articles plus the four), and the service's own Lees ook through the HTTP API
(`GET /v1/articles/seed/related?k=50`, position or "-" when not in the 50).

    .venv/bin/python scripts/seed_page_check.py --models bundled:all-MiniLM-L6-v2,tuned:current \\
        --tuned-root ../tune-dpg/models/tuned
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

SEED = ROOT.parent / "shared" / "seed" / "example-article-page.txt"
DPG = ROOT.parent / "shared" / "data" / "dpg-nl-2019" / "articles.jsonl"


def parse_seed(path: Path) -> tuple[str, str, list[str]]:
    """(title, text, Lees-ook headlines) of the saved page: the title precedes the section and
    byline, the text runs from after the image id to "Bron:", and each Lees-ook line holds its
    headline twice."""
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    byline = next(i for i, line in enumerate(lines) if line.startswith("door "))
    title = next(line for line in reversed(lines[: byline - 1]) if line)
    start = byline + 3  # byline, date, image id
    end = next(i for i, line in enumerate(lines) if line.startswith("Bron:"))
    text = "\n".join(line for line in lines[start:end] if line)
    block = lines.index("Lees ook")
    doubled = [line for line in lines[block + 1 :] if line][:4]
    headlines = [line[: len(line) // 2] for line in doubled]
    return title, text, headlines


def corpus(title: str, text: str, headlines: list[str]) -> list[Any]:
    from recommender.articles import Article, read_articles

    articles = [item for _, item in read_articles(DPG) if isinstance(item, Article)]
    for i, headline in enumerate(headlines):
        articles.append(Article(id=f"leesook-{i + 1}", title=headline))
    seed_time = datetime(2025, 10, 6, 11, 28, tzinfo=UTC)
    articles.append(Article(id="seed", title=title, text=text, published_at=seed_time))
    return articles


def check(model: str, tuned_root: Path, articles: list[Any], workdir: Path) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from recommender.api import create_app
    from recommender.config import Settings
    from recommender.embedding import create_embedder, embed_articles
    from recommender.service import RecommenderService
    from recommender.store import open_store

    ranker = ROOT / "models" / "ranker.json"  # the learned blend the service ships with
    settings = Settings(
        data_dir=workdir / "data",
        models_dir=workdir / model.replace(":", "_"),
        model_name=model,
        sqlite_synchronous="NORMAL",
        index_poll_seconds=0,
        ranker_path=ranker if ranker.is_file() else None,
    )
    # the service serves from an in-memory index; only the tuned models are read from disk
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    settings.tuned_root.unlink(missing_ok=True)
    settings.tuned_root.symlink_to(tuned_root.resolve())
    store = open_store(settings)
    embedder = create_embedder(settings)
    embedded = embed_articles(store, embedder, articles, settings.embed_max_words)
    store.close()
    ids = embedded.ids
    seed = embedded.vectors[ids.index("seed")]
    scores = embedded.vectors @ seed
    order = [ids[i] for i in np.argsort(-scores, kind="stable") if ids[i] != "seed"]
    pure = [order.index(f"leesook-{i}") + 1 for i in range(1, 5)]
    service = RecommenderService(settings, embedder)
    service.start()
    service.upsert(articles)  # every vector comes from the cache filled above
    with TestClient(create_app(settings, service)) as client:
        listed = client.get("/v1/articles/seed/related?k=50").json()["items"]
    service.close()
    shown = [item["id"] for item in listed]
    api = [
        shown.index(f"leesook-{i}") + 1 if f"leesook-{i}" in shown else None for i in range(1, 5)
    ]
    return {"model": embedder.name, "pure": pure, "api": api, "candidates": len(order)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", default="bundled:all-MiniLM-L6-v2,tuned:current")
    parser.add_argument("--tuned-root", type=Path, default=ROOT / "models" / "tuned")
    parser.add_argument("--workdir", type=Path, help="keeps the embedding cache between runs")
    args = parser.parse_args()
    for path in (SEED, DPG):
        if not path.is_file():
            raise SystemExit(f"{path} is missing")
    title, text, headlines = parse_seed(SEED)
    print(f"seed: {title}")
    for i, headline in enumerate(headlines, 1):
        print(f"  Lees ook {i}: {headline}")
    articles = corpus(title, text, headlines)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="seed-check-"))
    for model in args.models.split(","):
        result = check(model, args.tuned_root, articles, workdir)
        api = ", ".join("-" if rank is None else str(rank) for rank in result["api"])
        print(
            f"{result['model']}: pure similarity ranks {', '.join(map(str, result['pure']))} "
            f"of {result['candidates']}; through the API (k=50) {api}",
            flush=True,
        )


if __name__ == "__main__":
    main()
