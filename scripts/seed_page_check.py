"""The Dutch seed-page check through the HTTP API with the bundled model and the shipped ranker
file: the seed article of ../shared/seed/example-article-page.txt among the 1,434 DPG articles,
with its Lees-ook and Populair-nieuws headlines as articles and clicks on the popular ones.

    .venv/bin/python scripts/seed_page_check.py            # exit 0: both blocks as on the page

Lees ook (k=4) must be the page's 4 Cuba stories; Populair (k=6, context=seed) its 6 popular
stories, none of them in Lees ook. Prints both lists with their reasons.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from pydantic import SecretStr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from recommender.api import create_app  # noqa: E402
from recommender.config import Settings  # noqa: E402
from recommender.seedpage import (  # noqa: E402
    SEED_ID,
    parse_seed_page,
    seed_articles,
    seed_clicks,
)

SHARED = ROOT.parent / "shared"
PAGE = SHARED / "seed" / "example-article-page.txt"
DPG = SHARED / "data" / "dpg-nl-2019" / "articles.jsonl"
RANKER = ROOT / "models" / "ranker.json"
TOKEN = "seed-check"
BATCH = 50  # articles per request: full texts, under the 1 MB body limit
EVENT_BATCH = 500


def run_check(folder: Path, model_name: str | None = None) -> dict[str, Any]:
    """Feed everything through the API into a fresh service under folder; the two blocks."""
    page = parse_seed_page(PAGE.read_text())
    now = datetime.now(UTC)
    articles = seed_articles(page, DPG, now)
    events = seed_clicks(page, now)
    values: dict[str, Any] = {
        "data_dir": folder / "var",
        "models_dir": folder / "models",
        "ranker_path": RANKER,
        "api_token": SecretStr(TOKEN),
        "index_poll_seconds": 0,
    }
    if model_name:
        values["model_name"] = model_name
    settings = Settings(**values)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with TestClient(create_app(settings)) as client:
        for start in range(0, len(articles), BATCH):
            body = [json.loads(a.model_dump_json()) for a in articles[start : start + BATCH]]
            client.post("/v1/articles", json={"articles": body}, headers=auth).raise_for_status()
        for start in range(0, len(events), EVENT_BATCH):
            body = [
                {
                    "type": e.type,
                    "article_id": e.article_id,
                    "session_id": e.session_id,
                    "ts": datetime.fromtimestamp(e.ts, UTC).isoformat(),
                }
                for e in events[start : start + EVENT_BATCH]
            ]
            client.post("/v1/events", json={"events": body}).raise_for_status()
        related = client.get(f"/v1/articles/{SEED_ID}/related", params={"k": 4, "explain": True})
        popular = client.get("/v1/popular", params={"k": 6, "context": SEED_ID})
        related.raise_for_status()
        popular.raise_for_status()
    want_related = {a.id for a in articles if a.id.startswith("lees-")}
    want_popular = {a.id for a in articles if a.id.startswith("pop-")}
    got_related = [item["id"] for item in related.json()["items"]]
    got_popular = [item["id"] for item in popular.json()["items"]]
    return {
        "related": related.json()["items"],
        "popular": popular.json()["items"],
        "related_ok": set(got_related) == want_related,
        "popular_ok": set(got_popular) == want_popular,
        "no_overlap": not set(got_related) & set(got_popular),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cache", type=Path, help="embedding cache to reuse between runs (a SQLite file)"
    )
    args = parser.parse_args()
    if not PAGE.is_file() or not DPG.is_file():
        print(f"seed page or DPG data missing under {SHARED}")  # noqa: T201
        return 2
    with tempfile.TemporaryDirectory() as folder:
        if args.cache is not None and args.cache.is_file():
            # the store doubles as the embedding cache: an earlier run's cache skips the model
            (Path(folder) / "var").mkdir()
            store = Path(folder) / "var" / "recommender.db"
            shutil.copy(args.cache, store)
            with sqlite3.connect(store) as db:
                db.execute("DELETE FROM articles")
                db.execute("DELETE FROM events")
        result = run_check(Path(folder))
        if args.cache is not None:
            args.cache.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(Path(folder) / "var" / "recommender.db", args.cache)
    for block in ("related", "popular"):
        print(f"{block}:")  # noqa: T201
        for item in result[block]:
            reasons = item.get("reasons") or {}
            parts = ", ".join(f"{k}={v:.3f}" for k, v in reasons.items() if isinstance(v, float))
            print(f"  {item['id']:>16}  {item['title'][:70]}  {parts}")  # noqa: T201
    verdict = {k: result[k] for k in ("related_ok", "popular_ok", "no_overlap")}
    print(json.dumps(verdict))  # noqa: T201
    return 0 if all(verdict.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
