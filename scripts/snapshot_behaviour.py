"""Write what the outside world sees of the service into one folder, so two revisions can be
compared byte for byte (`diff -r`): a refactoring that claims "behaviour identical" runs this
before its first move and after its last.

Written: the OpenAPI document, every CLI `--help`, `evaluate` on the tiny MIND fixture with the
fake embedder (metrics.json without timings, report.md without its run-time line), and the
Lees-ook and Populair lists of every demo article through HTTP (recommendation ids removed),
plus the error bodies of an unknown route and a wrong method.

The clock is pinned, so freshness and decayed popularity do not drift between runs.

    python scripts/snapshot_behaviour.py var/snapshot-before
    ...
    python scripts/snapshot_behaviour.py var/snapshot-after && diff -r var/snapshot-{before,after}
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "mind_tiny"
# a fixed moment: the demo corpus is dated relative to it and every ranking reads it as "now"
FIXED_NOW = datetime(2025, 10, 6, 12, 0, tzinfo=UTC)
HELP_ENV = {"COLUMNS": "100", "TERM": "dumb", "NO_COLOR": "1"}


def write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def without_ids(body: Any) -> Any:
    if isinstance(body, dict):
        body.pop("recommendation_id", None)
    return body


def snapshot_cli_help(out: Path) -> None:
    from typer.testing import CliRunner

    from recommender.cli import app

    runner = CliRunner()
    top = runner.invoke(app, ["--help"], env=HELP_ENV)
    (out / "cli-help.txt").write_text(top.output)
    commands = re.findall(r"^│ (\S+)\s", top.output, flags=re.MULTILINE)
    for command in sorted(set(commands) - {"--log-level", "--help"}):
        result = runner.invoke(app, [command, "--help"], env=HELP_ENV)
        (out / f"cli-help-{command}.txt").write_text(result.output)


def snapshot_evaluate(out: Path, work: Path) -> None:
    from typer.testing import CliRunner

    from recommender.cli import app

    report = work / "report"
    result = CliRunner().invoke(
        app,
        [
            "evaluate",
            "--news",
            str(FIXTURE / "news.tsv"),
            "--behaviors",
            str(FIXTURE / "behaviors.tsv"),
            "--cache",
            str(work / "eval-cache.db"),
            "--seed",
            "3",
            "--test-fraction",
            "0.4",
            "--out",
            str(report),
        ],
        env={"RECOMMENDER_MODEL_NAME": "fake", "RECOMMENDER_DATA_DIR": str(work / "var")},
    )
    if result.exit_code != 0:
        raise SystemExit(f"evaluate failed ({result.exit_code}): {result.output}")
    metrics = json.loads((report / "metrics.json").read_text())
    metrics.pop("seconds", None)
    write_json(out / "evaluate-metrics.json", metrics)
    lines = (report / "report.md").read_text().splitlines(keepends=True)
    kept = "".join(line for line in lines if not line.startswith("Run time:"))
    # the temporary folder's name differs per run
    (out / "evaluate-report.md").write_text(kept.replace(str(work), "<work>"))


def snapshot_http(out: Path, work: Path) -> None:
    from fastapi.testclient import TestClient

    from recommender.api import create_app
    from recommender.config import Settings
    from recommender.demo import demo_articles, demo_click_log
    from recommender.service import RecommenderService

    settings = Settings(
        data_dir=work / "http-var",
        models_dir=work / "http-models",
        ranker_path=ROOT / "models" / "ranker.json",
        model_name="fake",
        sqlite_synchronous="NORMAL",
        index_poll_seconds=0,
    )
    articles = demo_articles(FIXED_NOW)
    service = RecommenderService(settings)
    service.start()
    service.upsert(articles)
    service.record_events(demo_click_log(articles, FIXED_NOW))
    app = create_app(settings, service)
    write_json(out / "openapi.json", app.openapi())
    lists: dict[str, Any] = {}
    with TestClient(app) as client:
        for article in sorted(articles, key=lambda a: a.id):
            related = client.get(f"/v1/articles/{article.id}/related?explain=true")
            popular = client.get(f"/v1/popular?context={article.id}&explain=true")
            lists[article.id] = {
                "related": [related.status_code, without_ids(related.json())],
                "popular": [popular.status_code, without_ids(popular.json())],
            }
            if article.url:
                by_url = client.get("/v1/related", params={"url": article.url, "k": 5})
                lists[article.id]["related_by_url"] = [
                    by_url.status_code,
                    without_ids(by_url.json()),
                ]
        extra = {
            "popular": client.get("/v1/popular?k=8"),
            "popular_trending": client.get("/v1/popular?window=trending&section=Sport"),
            "related_unknown": client.get("/v1/articles/no-such-article/related"),
            "bad_k": client.get("/v1/popular?k=0"),
            "unknown_route": client.get("/v1/no-such-route"),
            "wrong_method": client.post("/v1/popular"),
        }
        errors = {name: [r.status_code, without_ids(r.json())] for name, r in extra.items()}
    service.close()
    write_json(out / "http-lists.json", lists)
    write_json(out / "http-other.json", errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to write the snapshot into")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    os.chdir(ROOT)  # evaluate reads models/ranker.json relative to the working directory
    with (
        tempfile.TemporaryDirectory() as tmp,
        mock.patch("time.time", return_value=FIXED_NOW.timestamp()),
    ):
        work = Path(tmp)
        snapshot_cli_help(args.out)
        snapshot_evaluate(args.out, work)
        # the CLI pointed logging at the runner's captured stderr, which is closed by now
        logging.getLogger().handlers.clear()
        snapshot_http(args.out, work)
    print(f"snapshot written to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
