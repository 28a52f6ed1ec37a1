"""The lexical index inside an index folder: lexical.npz (arrays) and lexical.json (ids,
vocabulary, content hashes). Saved compacted, so loading is reading arrays back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from recommender.errors import IndexNotFound
from recommender.lexical.forward import Forward
from recommender.lexical.index import LexicalIndex
from recommender.lexical.names import Names
from recommender.lexical.segments import Segment

NAMES = "names.json"
ARRAYS = "lexical.npz"
META = "lexical.json"
FORMAT = 1


def save_lexical(index: LexicalIndex, folder: Path) -> None:
    index.compact()
    with (folder / ARRAYS).open("wb") as handle:
        np.savez(
            handle,
            doc_indptr=index.forward.indptr,
            doc_terms=index.forward.terms,
            doc_tf=index.forward.tf,
            doc_len=index.doc_len[: len(index.ids)],
            df=index.df[: len(index.vocabulary)],
            indptr=index.base.indptr,
            rows=index.base.rows,
            tf=index.base.tf,
        )
    meta = {
        "format": FORMAT,
        "ids": index.ids,
        "hashes": [index.hashes[str(i)] for i in index.ids],
        "vocabulary": sorted(index.vocabulary, key=index.vocabulary.__getitem__),
    }
    (folder / META).write_text(json.dumps(meta, ensure_ascii=False))


def load_lexical(folder: Path) -> LexicalIndex:
    """The index saved in folder; IndexNotFound when it is missing or unreadable."""
    try:
        meta = json.loads((folder / META).read_text())
        arrays = np.load(folder / ARRAYS)
        if meta.get("format") != FORMAT:
            raise ValueError(f"format {meta.get('format')!r}, expected {FORMAT}")
        index = LexicalIndex()
        index.vocabulary = {term: n for n, term in enumerate(meta["vocabulary"])}
        index.df = arrays["df"].astype(np.int32)
        ids: list[str] = [str(article_id) for article_id in meta["ids"]]
        index.ids = list(ids)
        index.rows = {article_id: n for n, article_id in enumerate(ids)}
        index.hashes = dict(zip(ids, meta["hashes"], strict=True))
        index.forward = Forward.of(arrays["doc_indptr"], arrays["doc_terms"], arrays["doc_tf"])
        index.doc_len = arrays["doc_len"].astype(np.float32)
        index.alive = np.ones(len(index.ids), dtype=bool)
        index.base = Segment(arrays["indptr"], arrays["rows"], arrays["tf"])
        index.alive_count = len(index.ids)
        index.total_len = float(index.doc_len.sum())
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexNotFound(f"unreadable lexical index in {folder}: {exc}") from exc
    if index.forward.rows != len(index.ids):
        raise IndexNotFound(f"inconsistent lexical index in {folder}")
    return index


def save_names(names: dict[str, Names], folder: Path) -> None:
    rows = {article_id: [n.names, n.plain, n.salience] for article_id, n in names.items()}
    (folder / NAMES).write_text(json.dumps(rows, ensure_ascii=False))


def load_names(folder: Path) -> dict[str, Names]:
    try:
        rows = json.loads((folder / NAMES).read_text())
        return {str(i): Names.of(*row) for i, row in rows.items()}
    except (OSError, ValueError, TypeError) as exc:
        raise IndexNotFound(f"unreadable names in {folder}: {exc}") from exc
