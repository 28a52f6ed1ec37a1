"""The Article model and corpus readers (JSONL, CSV, MIND news.tsv).

Readers never stop at a bad record: they yield a `RecordError` with the line number and go on,
so one corrupt line costs one article, not the whole file.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from recommender.errors import InvalidInput


def _to_str_id(value: Any) -> Any:
    # sites often use numeric ids; we keep every id as a string
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _reachable_id(value: str) -> str:
    # every id must be reachable as one path segment: /v1/articles/{id}, DELETE included
    if "/" in value:
        raise ValueError("an article id cannot contain '/': /v1/articles/{id} could not reach it")
    return value


ArticleId = Annotated[
    str,
    BeforeValidator(_to_str_id),
    Field(min_length=1, max_length=200),
    AfterValidator(_reachable_id),
]


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Article(BaseModel):
    """One news article as the site publishes it."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    id: ArticleId
    title: str = Field(min_length=1, max_length=1_000)
    url: str | None = Field(default=None, max_length=2_000)
    lead: str = Field(default="", max_length=10_000)
    text: str = Field(default="", max_length=500_000)
    section: str | None = Field(default=None, max_length=100)
    tags: list[str] = Field(default_factory=list, max_length=100)
    entities: list[str] = Field(default_factory=list, max_length=200)
    language: str | None = Field(default=None, max_length=20)
    author: str | None = Field(default=None, max_length=300)
    image: str | None = Field(default=None, max_length=2_000)
    published_at: datetime | None = None
    updated_at: datetime | None = None
    status: Literal["published", "unpublished"] = "published"

    @field_validator("published_at", "updated_at", mode="before")
    @classmethod
    def _parse_date(cls, value: Any) -> Any:
        # a bare date ("2019-03-01") is midnight UTC; anything else must be ISO 8601
        if isinstance(value, str) and len(value) == 10:
            return datetime.combine(date.fromisoformat(value), datetime.min.time())
        return value

    @field_validator("published_at", "updated_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else _as_utc(value)

    @field_validator("tags", "entities", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        # CSV cells carry lists as "a|b|c" or "a,b"
        if isinstance(value, str):
            sep = "|" if "|" in value else ","
            return [part.strip() for part in value.split(sep) if part.strip()]
        return value

    @property
    def is_published(self) -> bool:
        return self.status == "published"


def embedding_text(article: Article, max_words: int) -> str:
    """Title + lead + the start of the text: what the embedder sees."""
    body = " ".join(article.text.split()[:max_words])
    parts = [article.title, article.lead, body]
    return "\n".join(part for part in parts if part)


def text_hash(model_name: str, text: str) -> str:
    """Cache key of an embedding: the same text under the same model is never embedded twice."""
    return hashlib.sha256(f"{model_name}\0{text}".encode()).hexdigest()


def derive_title(record: Any) -> tuple[Any, str | None]:
    """Archives hold articles without a headline; a file record with an empty title but a text
    gets the text's first sentence as title (and a warning), rather than being dropped."""
    if not isinstance(record, dict) or str(record.get("title") or "").strip():
        return record, None
    source = str(record.get("lead") or record.get("text") or "").strip()
    if not source:
        return record, None
    sentence = re.split(r"(?<=[.!?])\s", source, maxsplit=1)[0]
    title = sentence if len(sentence) <= 120 else sentence[:117].rsplit(" ", 1)[0] + "..."
    return {**record, "title": title}, "empty title: used the first sentence of the text"


@dataclass(frozen=True, slots=True)
class RecordWarning:
    """A record that went in after a repair the operator should know about."""

    line: int
    message: str


@dataclass(frozen=True, slots=True)
class RecordError:
    """A record a reader could not turn into an Article."""

    line: int
    message: str


def parse_article(data: Any) -> Article:
    """Validate one record, raising InvalidInput with a one-line message."""
    try:
        return Article.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(validation_message(exc)) from exc


def validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "record"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


ReadResult = Iterator[tuple[int, Article | RecordError | RecordWarning]]


def _parse_record(
    line_no: int, record: Any
) -> Iterator[tuple[int, Article | RecordError | RecordWarning]]:
    record, warning = derive_title(record)
    try:
        article = parse_article(record)
    except InvalidInput as exc:
        yield line_no, RecordError(line_no, str(exc))
        return
    if warning:
        yield line_no, RecordWarning(line_no, warning)
    yield line_no, article


def read_jsonl(path: Path) -> ReadResult:
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                yield line_no, RecordError(line_no, f"invalid JSON: {exc.msg}")
                continue
            yield from _parse_record(line_no, record)


def read_csv(path: Path) -> ReadResult:
    with path.open(encoding="utf-8", errors="replace", newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        for row in reader:
            line_no = reader.line_num
            if None in row or any(value is None for value in row.values()):
                yield (
                    line_no,
                    RecordError(
                        line_no,
                        f"expected {len(header)} columns, the row does not match the header",
                    ),
                )
                continue
            yield from _parse_record(line_no, {k: v for k, v in row.items() if v != ""})


MIND_COLUMNS = ("id", "category", "subcategory", "title", "abstract", "url", "t_ent", "a_ent")


def _mind_entities(*cells: str) -> list[str]:
    ids: list[str] = []
    for cell in cells:
        if not cell or cell == "[]":
            continue
        for entity in json.loads(cell):
            wikidata = entity.get("WikidataId")
            if wikidata and wikidata not in ids:
                ids.append(wikidata)
    return ids


def read_mind_news(path: Path) -> ReadResult:
    """MIND news.tsv: id, category, subcategory, title, abstract, url, two entity lists."""
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line_no, line in enumerate(fh, start=1):
            cells = line.rstrip("\n").split("\t")
            if len(cells) != len(MIND_COLUMNS):
                yield (
                    line_no,
                    RecordError(line_no, f"expected 8 tab-separated columns, got {len(cells)}"),
                )
                continue
            row = dict(zip(MIND_COLUMNS, cells, strict=True))
            try:
                entities = _mind_entities(row["t_ent"], row["a_ent"])
            except (json.JSONDecodeError, AttributeError, TypeError):
                entities = []
            record = {
                "id": row["id"],
                "title": row["title"],
                "lead": row["abstract"],
                "url": row["url"] or None,
                "section": row["category"],
                "tags": [row["subcategory"]] if row["subcategory"] else [],
                "entities": entities,
                "language": "en",
            }
            yield from _parse_record(line_no, record)


def read_articles(path: Path, fmt: str = "auto") -> ReadResult:
    """Pick the reader by format or by file name."""
    if fmt == "auto":
        name = path.name.lower()
        if name.endswith((".jsonl", ".ndjson", ".json")):
            fmt = "jsonl"
        elif name.endswith(".csv"):
            fmt = "csv"
        elif name.endswith(".tsv"):
            fmt = "mind"
        else:
            raise InvalidInput(f"cannot tell the format of {path.name}; pass --format")
    readers = {"jsonl": read_jsonl, "csv": read_csv, "mind": read_mind_news}
    if fmt not in readers:
        raise InvalidInput(f"unknown format {fmt!r}; use one of {', '.join(readers)}")
    if not path.is_file():
        raise InvalidInput(f"no such file: {path}")
    return readers[fmt](path)


def now_utc() -> datetime:
    return datetime.now(UTC)
