"""A/B tests of rankings, simulated through the real HTTP API and event endpoint: readers with
known click propensities per variant open demo articles, see the Lees-ook block (an impression
event) and click with their variant's probability; /v1/stats/ctr gives the verdict.

    .venv/bin/python scripts/ab_simulation.py                # B +20%, then equal variants × 20
    .venv/bin/python scripts/ab_simulation.py --seeds 5 --readers 1500

Prints, per run, the views per arm, the CTRs and the verdict; then how often a winner was named
when B is truly better (the power) and when the variants are equal (the false-positive rate).
The fake embedder keeps it fast: the verdict depends on the clicks, not on the ranking.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from pydantic import SecretStr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from recommender.api import create_app  # noqa: E402
from recommender.config import Settings, VariantSpec  # noqa: E402
from recommender.demo import demo_articles  # noqa: E402
from recommender.service import RecommenderService  # noqa: E402

TOKEN = "simulation"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}


def run(rates: dict[str, float], readers: int, seed: int, folder: Path) -> dict[str, Any]:
    settings = Settings(
        data_dir=folder / "var",
        models_dir=folder / "models",
        model_name="fake",
        api_token=SecretStr(TOKEN),
        variants=[VariantSpec(name="A", share=1), VariantSpec(name="B", share=1)],
        experiment=f"sim-{seed}",
        ab_baseline_ctr=0.5,
        ab_min_relative_lift=0.2,
        ab_power=0.9,
    )
    svc = RecommenderService(settings)
    svc.start()
    articles = demo_articles()
    svc.upsert(articles)
    rng = random.Random(seed)
    with TestClient(create_app(settings, svc)) as client:
        batch: list[dict[str, Any]] = []
        for reader in range(readers):
            article = rng.choice(articles).id
            answer = client.get(f"/v1/articles/{article}/related?session_id=r{reader}").json()
            rid = answer["recommendation_id"]
            batch.append({"type": "impression", "article_id": article, "recommendation_id": rid})
            if rng.random() < rates[answer["variant"]]:
                position = min(int(rng.expovariate(1.0)), len(answer["items"]) - 1)
                click = {"type": "click", "recommendation_id": rid, "position": position}
                batch.append({**click, "article_id": answer["items"][position]["id"]})
            if len(batch) >= 400:
                client.post("/v1/events", json={"events": batch})
                batch = []
        if batch:
            client.post("/v1/events", json={"events": batch})
        stats: dict[str, Any] = client.get("/v1/stats/ctr", headers=HEADERS).json()
    svc.close()
    experiment: dict[str, Any] = stats["blocks"]["related"]["experiment"]
    return experiment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--readers", type=int, default=1_300)
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args()
    named = {"B +20%": 0, "equal": 0}
    with tempfile.TemporaryDirectory() as tmp:
        for label, rates in (("B +20%", {"A": 0.5, "B": 0.6}), ("equal", {"A": 0.5, "B": 0.5})):
            for seed in range(args.seeds):
                e = run(rates, args.readers, seed, Path(tmp) / f"{label}-{seed}")
                c = e["comparisons"]["B"]
                named[label] += e["winner"] is not None
                print(
                    f"{label:7} seed {seed:2}: views {e['seen_per_arm']}, n/arm "
                    f"{e['rule']['sample_size_per_arm']}, {c['status']}"
                    + (
                        f", CTR {c['ctr_control']:.3f} → {c['ctr_variant']:.3f}, "
                        f"p {c['p_value']:.4f}"
                        if c["status"] != "collecting"
                        else ""
                    )
                    + f", winner {e['winner']}"
                )
    print(
        f"winner named: B +20% {named['B +20%']}/{args.seeds} (power 0.9 planned); "
        f"equal {named['equal']}/{args.seeds} (α 0.05 planned)"
    )


if __name__ == "__main__":
    main()
