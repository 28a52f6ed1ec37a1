"""Validation of a tuned model: for held-out articles (never trained on), does the headline find
its own body among the bodies of all held-out articles? Mean reciprocal rank of the own body."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from recommender.articles import Article
from recommender.logs import Progress
from recommender.tuning.pairs import PairStream, body_start

# below this many held-out articles the score is too noisy to decide anything on
MIN_VALIDATION = 20


class TextEncoder(Protocol):
    def embed(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray: ...


@dataclass(frozen=True)
class ValidationSet:
    ids: list[str]
    headlines: list[str]
    bodies: list[str]

    def __len__(self) -> int:
        return len(self.ids)


class ValidationCollector:
    """Keeps the held-out articles that have both a headline and a body; only these are held."""

    def __init__(self, words: int) -> None:
        self.words = words
        self.held = ValidationSet([], [], [])

    def add(self, article: Article) -> None:
        body = body_start(article, self.words)
        if body and article.title.strip():
            self.held.ids.append(article.id)
            self.held.headlines.append(article.title)
            self.held.bodies.append(body)


def collect_validation(stream: PairStream) -> ValidationSet:
    """The validation set in a pass of its own (run.prepare collects it during the survey)."""
    collector = ValidationCollector(stream.words)
    for article in stream.store.iter_articles():
        if article.is_published and stream.split.is_validation(article.id):
            collector.add(article)
    return collector.held


def reciprocal_ranks(queries: np.ndarray, documents: np.ndarray) -> np.ndarray:
    """1 / rank of document i for query i among all documents (ties count against it)."""
    scores = queries @ documents.T
    own = np.diag(scores)
    ranks = 1 + (scores > own[:, None]).sum(axis=1)
    rr: np.ndarray = 1.0 / ranks
    return rr


def retrieval_mrr(
    encoder: TextEncoder, validation: ValidationSet, progress: Progress | None = None
) -> float:
    if len(validation) == 0:
        return 0.0
    queries = encoder.embed(validation.headlines, progress)
    documents = encoder.embed(validation.bodies, progress)
    return round(float(reciprocal_ranks(queries, documents).mean()), 6)
