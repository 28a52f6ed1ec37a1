"""Lexical "more like this" over articles: analysis (per-language terms) plus the BM25 index,
kept in step with the store by the same writes that keep the vector index in step."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from recommender.articles import Article
from recommender.component_configs import LexicalListsConfig
from recommender.lexical.analysis import Analyzer, article_language
from recommender.lexical.index import QUERY_TERMS, LexicalIndex
from recommender.lexical.listed import ListedLexical
from recommender.lexical.lists import LexicalLists
from recommender.lexical.name_rows import NameRows
from recommender.lexical.name_table import NameTable
from recommender.lexical.names import Names, extract_names, ranked_keys
from recommender.lexical.slot_rows import SlotRows
from recommender.lexical.storage import load_lexical, load_names, save_lexical, save_names

TITLE_WEIGHT = 2  # a word in the headline counts as much as two in the text


def lexical_hash(article: Article, max_words: int) -> str:
    text = "\0".join([article.language or "", article.title, article.lead, article.text])
    return hashlib.sha256(f"{max_words}\0{text}".encode()).hexdigest()[:24]


@dataclass
class LexicalBatch:
    """Analysed articles ready to enter the index, and the ids to take out."""

    gone: list[str] = field(default_factory=list)
    docs: list[tuple[str, list[str], str]] = field(default_factory=list)
    names: dict[str, Names] = field(default_factory=dict)

    def extend(self, other: LexicalBatch) -> None:
        self.gone += other.gone
        self.docs += other.docs
        self.names.update(other.names)


class LexicalSearch:
    """The served lexical signal: a candidate source (neighbours) and a feature
    (similarities)."""

    def __init__(
        self,
        max_words: int = 400,
        index: LexicalIndex | None = None,
        analyzer: Analyzer | None = None,
        use_tags: bool = True,
        names: dict[str, Names] | None = None,
        lists: LexicalListsConfig | None = None,
        precomputed: LexicalLists | None = None,
    ) -> None:
        """use_tags: CMS tags feed the names (off where tags are ground truth, in evaluation);
        lists: the neighbour lists' settings, precomputed: lists saved with the index."""
        self.max_words = max_words
        self.index = index or LexicalIndex()
        self.analyzer = analyzer or Analyzer()
        self.use_tags = use_tags
        self.names: dict[str, Names] = names or {}
        self.name_table = NameTable.of(self.names)
        self.name_rows = NameRows(self.index, self.name_table)
        self.listed = ListedLexical(self.index, lists or LexicalListsConfig(), precomputed)
        self.slot_rows = SlotRows(self.index)
        self.index.on_renumber = self._renumbered
        if precomputed is None and self.listed.config.depth > 0 and len(self.index):
            self.listed.compute_all()  # a folder saved without lists (or at another depth)

    def _renumbered(self, new_of_old: np.ndarray) -> None:
        """The index compacted: what is kept by index row moves with it."""
        self.listed.renumbered(new_of_old)
        self.name_rows.renumbered(new_of_old)
        self.slot_rows.renumbered(new_of_old)

    def __len__(self) -> int:
        return len(self.index)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self.index

    def terms(self, article: Article) -> list[str]:
        return self.analyse(article)[0]

    def analyse(self, article: Article) -> tuple[list[str], Names]:
        """Index terms (title counted TITLE_WEIGHT times) and salient names of an article."""
        body = " ".join(article.text.split()[: self.max_words])
        language = article_language(article.language, f"{article.title}\n{article.lead}\n{body}")
        title = self.analyzer.terms(article.title, language)
        terms = title * TITLE_WEIGHT + self.analyzer.terms(f"{article.lead}\n{body}", language)
        tags = article.tags if self.use_tags else ()
        lead = article.lead or " ".join(body.split()[:60])
        names = extract_names(self.analyzer, article.title, lead, language, tags, Counter(terms))
        return terms, names

    def is_current(self, article: Article) -> bool:
        return self.index.content_hash(article.id) == lexical_hash(article, self.max_words)

    def upsert(self, articles: Sequence[Article]) -> None:
        """Published articles are found at once; unpublished ones are gone at once."""
        self.apply(self.prepare(articles))

    def prepare(self, articles: Sequence[Article]) -> LexicalBatch:
        """The analysis of a batch (the slow part), done outside the service's lock."""
        batch = LexicalBatch(gone=[a.id for a in articles if not a.is_published])
        for article in articles:
            if article.is_published and not self.is_current(article):
                terms, names = self.analyse(article)
                batch.docs.append((article.id, terms, lexical_hash(article, self.max_words)))
                batch.names[article.id] = names
        return batch

    def apply(self, batch: LexicalBatch) -> None:
        """Make a prepared batch searchable (under the service's lock)."""
        before = self.name_rows.before_write()
        self.remove(batch.gone)
        self.index.upsert_many(batch.docs)
        self.names.update(batch.names)
        self.name_table.put_many(batch.names.items())
        written = [article_id for article_id, _, _ in batch.docs]
        self.name_rows.after_write(before, written)
        self.listed.after_write(written)

    def remove(self, article_ids: Sequence[str]) -> None:
        before = self.name_rows.before_write()
        self.index.remove(article_ids)
        for article_id in article_ids:
            self.names.pop(article_id, None)
        self.name_table.remove(article_ids)
        self.name_rows.after_write(before, [])
        self.listed.after_write([])

    @property
    def uses_lists(self) -> bool:
        return self.listed.config.depth > 0

    def neighbours(self, article_id: str, k: int) -> list[tuple[str, float]]:
        if self.uses_lists:
            return self.listed.neighbours(article_id, k)
        return self.index.neighbours(article_id, k)

    def similarities(self, article_id: str, candidate_ids: Sequence[str]) -> np.ndarray:
        return self._similarities_at(article_id, self.index.rows_of(candidate_ids))

    def _similarities_at(self, article_id: str, rows: np.ndarray) -> np.ndarray:
        """similarities of candidates given by index row (rows_of: -1 for an unknown id)."""
        if self.uses_lists:
            return self.listed.similarities_at(article_id, rows)
        return self.index.similarities_at(article_id, rows)

    def features(
        self,
        article_id: str,
        candidate_ids: Sequence[str],
        slots: np.ndarray | None = None,
        owner: object = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """similarities and name_overlap of the candidates together, each id looked up once;
        slots: the candidates' numbers that name each article for good within owner (catalogue
        slots), so that an id is looked up only the first time it is met (SlotRows)."""
        if slots is None:
            rows = self.index.rows_of(candidate_ids)
        else:
            rows = self.slot_rows.of(candidate_ids, slots, owner)
        named = self.name_table.overlap_at(
            self._ranked_keys(article_id), self.name_rows.of(candidate_ids, rows)
        )
        return self._similarities_at(article_id, rows), named

    def key_idf(self, keys: Sequence[str]) -> list[float]:
        """IDF of name keys; a key the corpus has never seen is as rare as can be."""
        index = self.index
        get = index.vocabulary.get
        ids = [get(key, -1) for key in keys]
        if -1 not in ids:  # the common case: every key is a term of the corpus
            known: list[float] = index.idf(np.array(ids, dtype=np.int64)).tolist()
            return known
        rarest = float(np.log1p(len(index) + 0.5))
        if not len(index.df):
            return [rarest] * len(keys)
        values: list[float] = index.idf(np.array(ids, dtype=np.int64)).tolist()
        # an unknown key (-1) read the last term's df: its value is replaced
        return [rarest if i < 0 else v for i, v in zip(ids, values, strict=True)]

    def name_overlap(self, article_id: str, candidate_ids: Sequence[str]) -> np.ndarray:
        """Each candidate's share of the article's salient names, in [0, 1]."""
        return self.name_table.overlap(self._ranked_keys(article_id), candidate_ids)

    def _ranked_keys(self, article_id: str) -> list[tuple[float, str]]:
        """The article's salient names, weighted and ranked as the overlap reads them."""
        return ranked_keys(self.names.get(article_id), self.key_idf)

    def save(self, folder: Path) -> None:
        save_lexical(self.index, folder)  # compacts first: the lists are renumbered with it
        save_names(self.names, folder)
        if self.listed.lists is not None:
            self.listed.lists.save(folder, len(self.index.ids), self.index.changes)

    @classmethod
    def load(
        cls,
        folder: Path,
        max_words: int = 400,
        use_tags: bool = True,
        lists: LexicalListsConfig | None = None,
    ) -> LexicalSearch:
        index = load_lexical(folder)
        config = lists or LexicalListsConfig()
        saved = LexicalLists.load(
            folder, len(index.ids), config.depth, QUERY_TERMS, len(index.vocabulary)
        )
        return cls(max_words, index, None, use_tags, load_names(folder), config, saved)
