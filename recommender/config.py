"""Settings, read once at the entry point (API or CLI) and passed down; domain code never reads
the environment itself. The typed configs of the components live here too, with their
defaults: a setting's default is its component's default, so the two can never differ."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from recommender.errors import InvalidInput

BUNDLED_MODEL = "bundled:all-MiniLM-L6-v2"


@dataclass(frozen=True, slots=True)
class PopularityConfig:
    half_life_hours: float = 6.0
    long_half_life_hours: float = 72.0
    session_dedup_minutes: float = 30.0
    click_weight: float = 1.0
    view_weight: float = 1.0
    impression_weight: float = 0.0


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
_POPULARITY = PopularityConfig()
_RANKING = RankingParams()
_TUNE = TuneConfig()


class Settings(BaseSettings):
    """All tunables of the service. Environment variables use the prefix RECOMMENDER_."""

    model_config = SettingsConfigDict(env_prefix="RECOMMENDER_", env_file=".env", extra="ignore")

    # storage
    data_dir: Path = Path("var")
    models_dir: Path = Path("models")
    sqlite_synchronous: Literal["NORMAL", "FULL"] = "FULL"

    # security: write endpoints need this bearer token; with none set, writes are refused
    api_token: SecretStr | None = None
    cors_origins: list[str] = Field(default_factory=lambda: ["*"])
    max_body_bytes: int = 1_000_000
    max_events_per_batch: int = 500
    max_articles_per_batch: int = 1_000

    # embeddings: any sentence-transformers name or path; the default is the bundled MiniLM
    model_name: str = BUNDLED_MODEL
    embed_batch_size: int = 64
    embed_device: str = "cpu"
    embed_max_words: int = 200
    # bfloat16 roughly doubles CPU throughput where the CPU has native bf16 (AVX512-BF16, AMX)
    # at a mean cosine > 0.999 to float32 (BENCHMARKS.md); elsewhere it is emulated and slower
    embed_dtype: Literal["float32", "bfloat16"] = "float32"

    # tuning (`recommender tune`, POST /v1/admin/tune); the CLI and the API override these
    tune_base_model: str = _TUNE.base_model
    tune_device: str = _TUNE.device
    tune_epochs: int = _TUNE.epochs
    tune_batch_size: int = _TUNE.batch_size
    tune_max_pairs: int | None = _TUNE.max_pairs
    tune_max_minutes: float | None = _TUNE.max_minutes
    tune_seed: int = _TUNE.seed
    tune_lr: float = _TUNE.lr
    tune_max_tokens: int = _TUNE.max_tokens
    keep_tuned_versions: int = 3

    # vector index
    index_type: Literal["auto", "flat", "hnsw"] = "auto"
    # "auto" switches to HNSW here: an exact search reads every vector (1.5 KB each), ~1 ms per
    # 10k articles on 2 cores, which breaks a 2 ms p50 well before 100k (see BENCHMARKS.md)
    hnsw_threshold: int = 20_000
    hnsw_m: int = 32
    hnsw_ef_search: int = 128
    hnsw_ef_construction: int = 200
    keep_index_versions: int = 3
    # a running server checks models/index/CURRENT this often and swaps in a new build; 0: off
    index_poll_seconds: float = 10.0
    # with no index on disk at all, start-up embeds the store in memory only up to this size;
    # a bigger store needs `recommender build` first
    max_articles_without_index: int = 20_000

    # popularity
    half_life_hours: float = _POPULARITY.half_life_hours
    trending_long_half_life_hours: float = _POPULARITY.long_half_life_hours
    session_dedup_minutes: float = _POPULARITY.session_dedup_minutes
    click_weight: float = _POPULARITY.click_weight
    view_weight: float = _POPULARITY.view_weight
    impression_weight: float = _POPULARITY.impression_weight

    # ranking
    candidates: int = _RANKING.candidates
    popular_candidates: int = _RANKING.popular_candidates
    near_duplicate_threshold: float = _RANKING.near_duplicate_threshold
    popular_dedup_threshold: float = _RANKING.popular_dedup_threshold
    mmr_lambda: float = _RANKING.mmr_lambda
    freshness_half_life_days: float = _RANKING.freshness_half_life_days
    weight_similarity: float = 1.0
    weight_popularity: float = 0.15
    weight_freshness: float = 0.1
    weight_same_section: float = 0.05
    ranker_path: Path | None = None  # default: <models_dir>/ranker.json
    default_k_related: int = _RANKING.default_k_related
    default_k_popular: int = 6
    max_k: int = 50

    @property
    def db_path(self) -> Path:
        return self.data_dir / "recommender.db"

    @property
    def index_root(self) -> Path:
        return self.models_dir / "index"

    @property
    def tuned_root(self) -> Path:
        return self.models_dir / "tuned"

    def tune_config(self, **overrides: Any) -> TuneConfig:
        """The tuning options: settings, with the given non-None overrides on top. Raises
        InvalidInput with every problem on one line."""
        values: dict[str, Any] = {
            name: getattr(self, f"tune_{name}")
            for name in (
                "base_model", "device", "epochs", "batch_size", "max_pairs",
                "max_minutes", "seed", "lr", "max_tokens",
            )
        }  # fmt: skip
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return TuneConfig(**values)
        except ValueError as exc:
            raise InvalidInput(f"bad tuning options: {exc}") from None

    @property
    def resolved_ranker_path(self) -> Path:
        return self.ranker_path or self.models_dir / "ranker.json"

    @property
    def half_life_is_set(self) -> bool:
        """Whether the operator chose the half-life (it then wins over a learned one)."""
        return "half_life_hours" in self.model_fields_set

    def popularity_config(self, half_life_hours: float | None = None) -> PopularityConfig:
        return PopularityConfig(
            half_life_hours=self.half_life_hours if half_life_hours is None else half_life_hours,
            long_half_life_hours=self.trending_long_half_life_hours,
            session_dedup_minutes=self.session_dedup_minutes,
            click_weight=self.click_weight,
            view_weight=self.view_weight,
            impression_weight=self.impression_weight,
        )

    def ranking_params(self) -> RankingParams:
        return RankingParams(
            candidates=self.candidates,
            near_duplicate_threshold=self.near_duplicate_threshold,
            popular_dedup_threshold=self.popular_dedup_threshold,
            mmr_lambda=self.mmr_lambda,
            freshness_half_life_days=self.freshness_half_life_days,
            default_k_related=self.default_k_related,
            popular_candidates=self.popular_candidates,
        )

    def default_weights(self) -> dict[str, float]:
        """The blend used when no learned ranker file is present."""
        return {
            "similarity": self.weight_similarity,
            "popularity": self.weight_popularity,
            "freshness": self.weight_freshness,
            "same_section": self.weight_same_section,
        }
