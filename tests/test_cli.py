"""The operator's CLI, run as a user runs it: exit codes, line-numbered problems, the store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recommender import __version__
from recommender.cli import app
from recommender.cli.common import ExitCode
from recommender.store import SqliteStore as Store
from tests.factories import article


def store_of(env: dict[str, str]) -> Store:
    return Store(Path(env["RECOMMENDER_DATA_DIR"]) / "recommender.db")


def test_ingest_reports_a_corrupt_csv_line_and_keeps_the_rest(
    tmp_path: Path, env: dict[str, str]
) -> None:
    path = tmp_path / "articles.csv"
    path.write_text(
        "id,title,section,text,published_at\n"
        "a,Cuba verhoogt brandstofprijs,Economie,Havana Cuba brandstof,2025-10-01\n"
        "b,Kapotte regel,Sport,tekst,2025-10-01,extra\n"
        "c,Cuba verpacht land,Buitenland,Havana Cuba grond,2025-10-02\n"
    )
    result = CliRunner().invoke(app, ["ingest", str(path)], env=env)
    assert result.exit_code == ExitCode.RECORDS_REJECTED
    assert f"{path}:3:" in result.output
    assert "ingested 2 articles" in result.output
    store = store_of(env)
    assert len(list(store.iter_articles())) == 2 and store.get_article("b") is None
    store.close()


def test_ingest_build_and_related_on_a_clean_file(tmp_path: Path, env: dict[str, str]) -> None:
    path = tmp_path / "articles.jsonl"
    path.write_text(
        '{"id": "a", "title": "Cuba verhoogt brandstofprijs", "text": "Havana Cuba brandstof"}\n'
        '{"id": "b", "title": "Cuba verpacht land", "text": "Havana Cuba grond landbouw"}\n'
        '{"id": "c", "title": "Feyenoord wint", "text": "voetbal Feyenoord stadion"}\n'
    )
    runner = CliRunner()
    assert runner.invoke(app, ["ingest", str(path)], env=env).exit_code == 0
    built = runner.invoke(app, ["build"], env=env)
    assert built.exit_code == 0, built.output
    assert "3 articles" in built.output and "embedded 3" in built.output
    again = runner.invoke(app, ["build"], env=env)
    assert "reused 3" in again.output and "embedded 0" in again.output
    related = runner.invoke(app, ["related", "a", "--k", "1"], env=env)
    assert related.exit_code == 0 and "Cuba verpacht land" in related.output


def test_import_events_reports_bad_rows(tmp_path: Path, env: dict[str, str]) -> None:
    path = tmp_path / "clicks.csv"
    path.write_text(
        "ts,type,article_id,session_id,recommendation_id,position\n"
        "2025-10-01T10:00:00Z,click,a,s1,,0\n"
        "2025-10-01T10:01:00Z,like,a,s2,,\n"
        "2025-10-01T10:02:00Z,view,b,s3,,\n"
    )
    result = CliRunner().invoke(app, ["import-events", str(path)], env=env)
    assert result.exit_code == ExitCode.RECORDS_REJECTED
    assert f"{path}:3:" in result.output and "imported 2 events" in result.output
    store = store_of(env)
    assert [e.article_id for e in store.iter_events()] == ["a", "b"]
    store.close()


def test_a_missing_file_is_one_line_and_exit_code_2(tmp_path: Path, env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["ingest", str(tmp_path / "nope.jsonl")], env=env)
    assert result.exit_code == 2
    assert result.output.strip().startswith("error: no such file")


def write_corpus(tmp_path: Path) -> Path:
    path = tmp_path / "articles.jsonl"
    path.write_text(
        '{"id": "a", "title": "Cuba verhoogt brandstofprijs", "text": "Havana Cuba brandstof"}\n'
        '{"id": "b", "title": "Cuba verpacht land", "text": "Havana Cuba grond landbouw"}\n'
        '{"id": "c", "title": "Feyenoord wint", "text": "voetbal Feyenoord stadion"}\n'
        '{"id": "d", "title": ""}\n'
    )
    return path


def test_json_output_of_ingest_build_related_popular_and_import_events(
    tmp_path: Path, env: dict[str, str]
) -> None:
    runner = CliRunner()
    ingested = runner.invoke(app, ["ingest", str(write_corpus(tmp_path)), "--json"], env=env)
    assert ingested.exit_code == ExitCode.RECORDS_REJECTED
    # stdout holds exactly one JSON document; the problem lines went to stderr
    report = json.loads(ingested.stdout)
    assert report["accepted"] == 3 and [r["line"] for r in report["rejected"]] == [4]
    assert f"{tmp_path / 'articles.jsonl'}:4:" in ingested.stderr

    built = runner.invoke(app, ["build", "--json"], env=env)
    assert built.exit_code == 0, built.output
    summary = json.loads(built.stdout)
    assert summary["count"] == 3 and summary["embedded"] == 3 and Path(summary["folder"]).is_dir()

    clicks = tmp_path / "clicks.csv"
    clicks.write_text(
        "ts,type,article_id,session_id,recommendation_id,position\n"
        "2025-10-01T10:00:00Z,click,c,s1,,0\n"
        "2025-10-01T10:01:00Z,click,c,s2,,\n"
    )
    imported = runner.invoke(app, ["import-events", str(clicks), "--json"], env=env)
    assert imported.exit_code == 0 and json.loads(imported.stdout)["accepted"] == 2

    related = json.loads(runner.invoke(app, ["related", "a", "--k", "1", "--json"], env=env).stdout)
    assert related["kind"] == "related" and related["fallback"] is False
    assert set(related["items"][0]) == {
        "id",
        "url",
        "title",
        "section",
        "image",
        "published_at",
        "score",
    }
    assert [item["id"] for item in related["items"]] == ["b"]
    popular = runner.invoke(app, ["popular", "--k", "1", "--window", "alltime", "--json"], env=env)
    assert [item["id"] for item in json.loads(popular.stdout)["items"]] == ["c"]


@pytest.mark.parametrize(
    ("args", "extra_env", "code", "message"),
    [
        (["popular", "--window", "weekly"], {}, ExitCode.USAGE_ERROR, "weekly"),
        (["--log-level", "LOUD", "popular"], {}, ExitCode.USAGE_ERROR, "LOUD"),
        (["popular"], {"RECOMMENDER_MAX_K": "many"}, ExitCode.USAGE_ERROR, "RECOMMENDER_MAX_K"),
        (["popular"], {"RECOMMENDER_CORS_ORIGINS": "[oops"}, ExitCode.USAGE_ERROR, "CORS"),
        (["ingest", "nope.jsonl"], {}, ExitCode.USAGE_ERROR, "no such file"),
        (
            ["related", "a"],
            {"RECOMMENDER_MAX_ARTICLES_WITHOUT_INDEX": "0"},
            ExitCode.RUNTIME_ERROR,
            "run `recommender build` first",
        ),
    ],
)
def test_exit_codes_are_distinct_and_errors_one_line(
    tmp_path: Path,
    env: dict[str, str],
    args: list[str],
    extra_env: dict[str, str],
    code: ExitCode,
    message: str,
) -> None:
    if args[0] == "related":
        # no index and a store too big to embed at start: a runtime problem, not the caller's
        # mistake (an unreadable index no longer is one: an index rebuilt from the store serves)
        store = store_of(env)
        store.upsert_articles([article("a", "Een", "tekst")])
        store.close()
    result = CliRunner().invoke(app, args, env={**env, **extra_env})
    assert result.exit_code == code, result.output
    assert message.lower() in result.output.lower()
    assert "Traceback" not in result.output
    if code != ExitCode.USAGE_ERROR or args[0] not in ("popular", "--log-level"):
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_setting_given_as_comma_separated_origins_is_accepted(tmp_path: Path) -> None:
    from recommender.config import Settings

    origins = "https://a.example, https://b.example"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RECOMMENDER_CORS_ORIGINS", origins)
        assert Settings().cors_origins == ["https://a.example", "https://b.example"]


def test_version_and_documented_exit_codes() -> None:
    runner = CliRunner()
    version = runner.invoke(app, ["--version"])
    assert version.exit_code == 0 and version.output.strip() == f"recommender {__version__}"
    helped = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    for code in ExitCode:
        assert f"{int(code)}  " in helped.output, code
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    for code in ExitCode:
        assert f"| {int(code)} |" in readme, code


def test_related_does_not_load_the_embedding_model(tmp_path: Path, env: dict[str, str]) -> None:
    """Read-only commands use the saved index: the model (the seconds of a CLI call) is
    loaded only when the store has articles the index lacks."""
    from recommender.cli.common import read_only_service
    from recommender.config import Settings

    # the fake model under the name it writes into manifests, as a real model's name is
    env = {**env, "RECOMMENDER_MODEL_NAME": "fake-hash-256"}
    runner = CliRunner()
    runner.invoke(app, ["ingest", str(write_corpus(tmp_path))], env=env)
    assert runner.invoke(app, ["build"], env=env).exit_code == 0
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        settings = Settings()
    service = read_only_service(settings)
    try:
        embedder = service._embedder
        assert embedder.loaded is False
        assert [i.card.id for i in service.related("a", 1).items] == ["b"]
        assert [i.card.id for i in service.popular(2).items]
        assert embedder.loaded is False
        service.upsert([article("e", "Cuba opent grens", "Havana Cuba grens")])
        assert embedder.loaded is True  # the first embed loads it
    finally:
        service.close()
    # an article stored after the build: the index lacks it, so the model loads to add it
    store = store_of(env)
    store.upsert_articles([article("f", "Cuba en de grens", "Havana Cuba grens")])
    store.close()
    again = read_only_service(settings)
    try:
        assert again._embedder.loaded is True
        assert again.health()["indexed"] == 5  # a, b, c, and e and f added at start
    finally:
        again.close()
