"""Settings, read once at the entry point (API or CLI) and passed down; domain code never reads
the environment itself. The typed configs of the components live here too, with their
defaults: a setting's default is its component's default, so the two can never differ."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

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


class VariantSpec(BaseModel):
    """One ranking variant of an A/B test. Unset parts are the served ranking's own."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    share: float = Field(gt=0, description="relative share of readers")
    ranker_path: Path | None = Field(default=None, description="a ranker file of its own")
    weights: dict[str, float] | None = Field(default=None, description="blend weights to set")
    signals_off: list[str] = Field(default_factory=list, description="features weighted 0")
    mmr_lambda: float | None = Field(default=None, ge=0, le=1)
    popular_window: Literal["decayed", "trending", "alltime"] | None = None


_POPULARITY = PopularityConfig()
_RANKING = RankingParams()


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
    weight_lexical: float = 0.5
    weight_name_overlap: float = 0.5
    weight_coreads: float = 0.3

    # lexical index (BM25 over title, lead and the start of the text) and co-reads
    lexical_max_words: int = 400
    lexical_candidates: int = _RANKING.lexical_candidates
    coread_candidates: int = _RANKING.coread_candidates
    coread_half_life_hours: float = CoReadConfig.half_life_hours
    coread_neighbours: int = CoReadConfig.neighbours
    coread_shrinkage: float = CoReadConfig.shrinkage
    ranker_path: Path | None = None  # default: <models_dir>/ranker.json
    default_k_related: int = _RANKING.default_k_related
    default_k_popular: int = 6
    max_k: int = 50

    # online evaluation: the served-list log and A/B tests of rankings
    served_log: bool = True
    served_log_flush_seconds: float = Field(default=1.0, gt=0)
    served_log_max_pending: int = Field(default=50_000, ge=100)
    served_log_retention_days: float = Field(default=30.0, gt=0)
    # JSON list, e.g. [{"name":"A","share":1},{"name":"B","share":1,"mmr_lambda":0.6}]; the first
    # is the control; empty: one variant, "default", for every reader
    variants: list[VariantSpec] = Field(default_factory=list)
    # readers are split by a hash of this name and their session id: a new name reshuffles them
    experiment: str = "default"
    # the decision rule, fixed before the test starts (online/abtest.py)
    ab_alpha: float = Field(default=0.05, gt=0, lt=0.5)
    ab_power: float = Field(default=0.8, gt=0.5, lt=1)
    ab_baseline_ctr: float = Field(default=0.05, gt=0, lt=1)
    ab_min_relative_lift: float = Field(default=0.2, gt=0)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "recommender.db"

    @property
    def index_root(self) -> Path:
        return self.models_dir / "index"

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
            lexical_candidates=self.lexical_candidates,
            coread_candidates=self.coread_candidates,
        )

    def coread_config(self) -> CoReadConfig:
        return CoReadConfig(
            half_life_hours=self.coread_half_life_hours,
            neighbours=self.coread_neighbours,
            shrinkage=self.coread_shrinkage,
        )

    def default_weights(self) -> dict[str, float]:
        """The blend used when no learned ranker file is present."""
        return {
            "similarity": self.weight_similarity,
            "popularity": self.weight_popularity,
            "freshness": self.weight_freshness,
            "same_section": self.weight_same_section,
            "lexical": self.weight_lexical,
            "name_overlap": self.weight_name_overlap,
            "coreads": self.weight_coreads,
        }
