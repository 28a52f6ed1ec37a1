"""The contrastive training loop, a plain torch loop over a sentence-transformers model: each
anchor must pick its own positive among all positives of the batch (in-batch negatives), in
both directions. The only torch user of the tuning package."""

from __future__ import annotations

import copy
import logging
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from recommender.config import TuneConfig
from recommender.embedding import load_sentence_transformer, normalise
from recommender.logs import Progress
from recommender.tuning.pairs import Pair

log = logging.getLogger(__name__)

# cosine similarities are scaled before the softmax (as sentence-transformers' MNRL loss does)
SCALE = 20.0
# the learning rate rises linearly over this share of the planned steps
WARMUP_SHARE = 0.1
ENCODE_BATCH = 64


class Trainer:
    def __init__(self, name: str, location: str, config: TuneConfig) -> None:
        torch.manual_seed(config.seed)
        random.seed(config.seed)
        self.config = config
        self.model: Any = load_sentence_transformer(name, location, config.device)
        # serving keeps the base model's own length; training uses the shorter max_tokens
        self.served_max_length = int(self.model.max_seq_length)
        self.model.max_seq_length = config.max_tokens
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=config.lr)
        self.warmup = 1
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: min(1.0, (step + 1) / self.warmup)
        )
        self.steps = 0
        # sentence-transformers 6 renamed tokenize to preprocess; support both
        self._preprocess = getattr(self.model, "preprocess", None) or self.model.tokenize
        # sentence-transformers renamed this method; support both spellings
        getter = getattr(self.model, "get_embedding_dimension", None)
        self.dim = int((getter or self.model.get_sentence_embedding_dimension)())

    def plan(self, total_steps: int) -> None:
        """Warm up the learning rate over the first share of the planned steps."""
        self.warmup = max(1, int(total_steps * WARMUP_SHARE))
        for group in self.optimizer.param_groups:
            group["lr"] = self.config.lr / self.warmup  # the first step is already warming up

    def _encode(self, texts: Sequence[str]) -> torch.Tensor:
        features = self._preprocess(list(texts))
        features = {
            k: v.to(self.model.device) if isinstance(v, torch.Tensor) else v
            for k, v in features.items()
        }
        vectors: torch.Tensor = self.model(features)["sentence_embedding"]
        return torch.nn.functional.normalize(vectors, dim=-1)

    def step(self, batch: Sequence[Pair]) -> float:
        self.model.train()
        anchors = self._encode([p.anchor for p in batch])
        positives = self._encode([p.positive for p in batch])
        scores = anchors @ positives.T * SCALE
        labels = torch.arange(len(batch), device=scores.device)
        loss = (
            torch.nn.functional.cross_entropy(scores, labels)
            + torch.nn.functional.cross_entropy(scores.T, labels)
        ) / 2
        self.optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        self.optimizer.step()
        self.scheduler.step()
        self.steps += 1
        return float(loss.item())

    def time_step(self, batch: Sequence[Pair]) -> float:
        """Seconds a training step on this batch takes, without changing the model (the
        gradients are computed and thrown away): sizes a time-bounded run."""
        started = time.perf_counter()
        self.model.train()
        anchors = self._encode([p.anchor for p in batch])
        positives = self._encode([p.positive for p in batch])
        (anchors @ positives.T).sum().backward()  # type: ignore[no-untyped-call]
        self.optimizer.zero_grad()
        return time.perf_counter() - started

    def embed(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        """Vectors from the model as it is now (the validation's TextEncoder)."""
        self.model.eval()
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        with torch.no_grad():
            for start in range(0, len(texts), ENCODE_BATCH):
                chunk = texts[start : start + ENCODE_BATCH]
                out[start : start + len(chunk)] = self._encode(chunk).float().cpu().numpy()
                if progress:
                    progress(len(chunk))
        return normalise(out)

    def snapshot(self) -> dict[str, torch.Tensor]:
        return copy.deepcopy(self.model.state_dict())

    def restore(self, state: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict(state)

    def save(self, folder: Path) -> None:
        self.model.max_seq_length = self.served_max_length
        try:
            self.model.save(str(folder))
        finally:
            self.model.max_seq_length = self.config.max_tokens
