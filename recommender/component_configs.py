"""The typed configs of the components, with their defaults. Settings (config.py) takes each
setting's default from here, so a component's default and its setting can never differ."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

BUNDLED_MODEL = "bundled:all-MiniLM-L6-v2"


@dataclass(frozen=True, slots=True)
class PopularityConfig:
    half_life_hours: float = 6.0
    long_half_life_hours: float = 72.0
    session_dedup_minutes: float = 30.0
    click_weight: float = 1.0
    view_weight: float = 1.0
    impression_weight: float = 0.0
    dedup_max_entries: int = 400_000


@dataclass(frozen=True)
class RankingParams:
    candidates: int = 100
    near_duplicate_threshold: float = 0.92
    popular_dedup_threshold: float = 0.85
    mmr_lambda: float = 0.8
    freshness_half_life_days: float = 7.0
    default_k_related: int = 4
    # the most popular articles join the Lees-ook candidates, so the learned blend can rank a
    # popular story that is not a near neighbour (the evaluation on MIND uses 50); 0 = none
    popular_candidates: int = 50
    # lexical ("more like this") and co-read neighbours that join the candidates; 0 = none
    lexical_candidates: int = 50
    coread_candidates: int = 20


@dataclass(frozen=True)
class CoReadConfig:
    """Co-reads (recommender.coreads): decay, bounds and shrinkage of the co-read table."""

    half_life_hours: float = 7 * 24.0
    neighbours: int = 50
    session_items: int = 20
    session_gap_hours: float = 24.0
    max_sessions: int = 200_000
    shrinkage: float = 3.0


@dataclass(frozen=True)
class LexicalListsConfig:
    """Precomputed lexical neighbour lists (recommender.lexical.listed). depth: rows kept per
    article, above the ranker's lexical candidates so dead rows leave enough (0: a live search
    per request); refresh_share: the share of the corpus that must change (articles added or
    removed) before a list counts as stale; refresh_per_write: stale lists computed again, oldest
    first, after each write."""

    depth: int = 64
    refresh_share: float = 0.05
    refresh_per_write: int = 8


class VariantSpec(BaseModel):
    """One ranking variant of an A/B test. Unset parts are the served ranking's own."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    share: float = Field(gt=0, description="relative share of readers")
    ranker_path: Path | None = Field(default=None, description="a ranker file of its own")
    weights: dict[str, float] | None = Field(default=None, description="blend weights to set")
    signals_off: list[str] = Field(default_factory=list, description="features weighted 0")
    mmr_lambda: float | None = Field(default=None, ge=0, le=1)
    popular_window: Literal["decayed", "trending", "alltime"] | None = None


@dataclass(frozen=True)
class TuneConfig:
    """Contrastive tuning of the embedding model on the site's own articles (`recommender tune`).
    max_pairs bounds the pairs per epoch, max_minutes the whole run (pairs are then sampled so
    the run fits); None means no bound."""

    base_model: str = BUNDLED_MODEL
    device: str = "cpu"
    epochs: int = 1
    batch_size: int = 32
    max_pairs: int | None = None
    max_minutes: float | None = None
    seed: int = 13
    lr: float = 3e-5
    max_tokens: int = 128
    # held-out articles for validation: this share of the corpus, at most max_validation (a
    # validation embeds two texts per article, before training and after every epoch)
    validation_share: float = 0.15
    max_validation: int = 500
    # co-read pairs join once this many distinct article pairs were read by >= 2 sessions each
    min_coread_pairs: int = 50
    # stop after this many epochs without a better validation score
    patience: int = 1

    def __post_init__(self) -> None:
        problems = [
            name
            for name, ok in (
                ("epochs must be >= 1", self.epochs >= 1),
                ("batch size must be >= 2 (in-batch negatives)", self.batch_size >= 2),
                ("max pairs must be >= 1", self.max_pairs is None or self.max_pairs >= 1),
                ("max minutes must be > 0", self.max_minutes is None or self.max_minutes > 0),
                ("learning rate must be in (0, 1)", 0 < self.lr < 1),
                ("max tokens must be in 16..512", 16 <= self.max_tokens <= 512),
                ("device must be cpu, cuda or cuda:N", self.device.split(":")[0] in _DEVICES),
            )
            if not ok
        ]
        if problems:
            raise ValueError("; ".join(problems))


_DEVICES = ("cpu", "cuda")
