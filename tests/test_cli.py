"""The operator's CLI, run as a user runs it: exit codes, line-numbered problems, the store."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from recommender.cli import app
from recommender.store import SqliteStore as Store


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
    assert result.exit_code == 2
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
    assert result.exit_code == 2
    assert f"{path}:3:" in result.output and "imported 2 events" in result.output
    store = store_of(env)
    assert [e.article_id for e in store.iter_events()] == ["a", "b"]
    store.close()


def test_a_missing_file_is_one_line_and_exit_code_2(tmp_path: Path, env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["ingest", str(tmp_path / "nope.jsonl")], env=env)
    assert result.exit_code == 2
    assert result.output.strip().startswith("error: no such file")
