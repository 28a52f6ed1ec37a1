from __future__ import annotations

import json
from pathlib import Path

import pytest

from recommender.articles import (
    Article,
    RecordError,
    RecordWarning,
    embedding_text,
    parse_article,
    read_articles,
    text_hash,
)
from recommender.errors import InvalidInput


def test_jsonl_reports_bad_lines_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(
        json.dumps({"id": 1, "title": "Een", "published_at": "2019-03-01"}) + "\n"
        "{not json\n"
        + json.dumps({"id": "3", "title": "Drie", "published_at": "gisteren"})
        + "\n"
        + json.dumps({"id": "4", "title": "Vier"})
        + "\n"
    )
    results = [item for _, item in read_articles(path)]
    errors = [r for r in results if isinstance(r, RecordError)]
    articles = [r for r in results if isinstance(r, Article)]
    assert [a.id for a in articles] == ["1", "4"]  # numeric ids become strings
    assert [e.line for e in errors] == [2, 3]
    assert "invalid JSON" in errors[0].message
    assert "published_at" in errors[1].message
    assert articles[0].published_at is not None and articles[0].published_at.tzinfo is not None


def test_empty_title_is_repaired_from_text_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(
        json.dumps({"id": "1", "title": "", "text": "Eerste zin hier. Tweede zin."})
        + "\n"
        + json.dumps({"id": "2", "title": "", "text": ""})
        + "\n"
    )
    results = [item for _, item in read_articles(path)]
    assert isinstance(results[0], RecordWarning)
    assert isinstance(results[1], Article) and results[1].title == "Eerste zin hier."
    assert isinstance(results[2], RecordError) and results[2].line == 2


def test_csv_corrupt_line_is_reported_with_its_line_number(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text(
        "id,title,section,tags,published_at\n"
        "a,Eerste artikel,Sport,voetbal|eredivisie,2025-10-01T10:00:00+02:00\n"
        "b,Kapotte regel,Sport,,2025-10-01,extra,kolommen\n"
        "c,Derde artikel,Politiek,,2025-10-02\n"
    )
    results = [item for _, item in read_articles(path)]
    articles = [r for r in results if isinstance(r, Article)]
    errors = [r for r in results if isinstance(r, RecordError)]
    assert [a.id for a in articles] == ["a", "c"]
    assert articles[0].tags == ["voetbal", "eredivisie"]
    assert [e.line for e in errors] == [3]


def test_mind_news_reader_keeps_entities_and_subcategory(tmp_path: Path) -> None:
    entity = json.dumps([{"Label": "Cuba", "WikidataId": "Q241"}])
    path = tmp_path / "news.tsv"
    path.write_text(
        f"N1\tnews\tnewsworld\tCuba story\tabstract\thttps://x/1\t{entity}\t[]\nN2\tonly\tthree\n"
    )
    results = [item for _, item in read_articles(path)]
    first = results[0]
    assert isinstance(first, Article)
    assert first.entities == ["Q241"] and first.tags == ["newsworld"] and first.section == "news"
    assert isinstance(results[1], RecordError) and results[1].line == 2


def test_unknown_format_and_missing_file_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="format"):
        read_articles(tmp_path / "x.xml")
    with pytest.raises(InvalidInput, match="no such file"):
        read_articles(tmp_path / "missing.jsonl")


def test_parse_article_requires_a_title() -> None:
    with pytest.raises(InvalidInput, match="title"):
        parse_article({"id": "x"})


def test_embedding_text_and_hash() -> None:
    a = Article(id="1", title="Titel", lead="Intro", text="een twee drie vier")
    assert embedding_text(a, max_words=2) == "Titel\nIntro\neen twee"
    assert text_hash("m1", "t") != text_hash("m2", "t")
    assert text_hash("m1", "t") == text_hash("m1", "t")
