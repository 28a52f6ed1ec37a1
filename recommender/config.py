"""Settings, read once at the entry point (API or CLI) and passed down; domain code never reads
the environment itself."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

BUNDLED_MODEL = "bundled:all-MiniLM-L6-v2"


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

    # vector index
    index_type: Literal["auto", "flat", "hnsw"] = "auto"
    hnsw_threshold: int = 200_000
    hnsw_m: int = 32
    hnsw_ef_search: int = 128
    keep_index_versions: int = 3

    # popularity
    half_life_hours: float = 6.0
    trending_long_half_life_hours: float = 72.0
    session_dedup_minutes: float = 30.0
    click_weight: float = 1.0
    view_weight: float = 1.0
    impression_weight: float = 0.0

    # ranking
    candidates: int = 100
    near_duplicate_threshold: float = 0.92
    popular_dedup_threshold: float = 0.85
    mmr_lambda: float = 0.75
    freshness_half_life_days: float = 7.0
    weight_similarity: float = 1.0
    weight_popularity: float = 0.15
    weight_freshness: float = 0.1
    weight_same_section: float = 0.05
    ranker_path: Path | None = None  # default: <models_dir>/ranker.json
    default_k_related: int = 4
    default_k_popular: int = 6
    max_k: int = 50

    @property
    def db_path(self) -> Path:
        return self.data_dir / "recommender.db"

    @property
    def index_root(self) -> Path:
        return self.models_dir / "index"

    @property
    def resolved_ranker_path(self) -> Path:
        return self.ranker_path or self.models_dir / "ranker.json"
