"""Settings, read once at the entry point (API or CLI) and passed down; domain code never reads
the environment itself. The typed configs of the components (component_configs.py) fill from
them: a setting's default is its component's default, so the two can never differ."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from recommender.component_configs import (
    BUNDLED_MODEL,
    CoReadConfig,
    LexicalListsConfig,
    PopularityConfig,
    RankingParams,
    TuneConfig,
    VariantSpec,
)
from recommender.errors import InvalidInput

# the component configs are imported from here as well, with the settings that fill them
__all__ = [
    "BUNDLED_MODEL",
    "CoReadConfig",
    "PopularityConfig",
    "RankingParams",
    "Settings",
    "TuneConfig",
    "VariantSpec",
]


_POPULARITY = PopularityConfig()
_RANKING = RankingParams()
_TUNE = TuneConfig()


class Settings(BaseSettings):
    """All tunables of the service. Environment variables use the prefix RECOMMENDER_. Each
    field's docstring is its line in the README's settings table (`recommender settings`)."""

    model_config = SettingsConfigDict(
        env_prefix="RECOMMENDER_", env_file=".env", extra="ignore", use_attribute_docstrings=True
    )

    # storage
    data_dir: Path = Path("var")
    """SQLite database (`recommender.db`), the evaluation's embedding cache"""
    models_dir: Path = Path("models")
    """index folders (`index/<version>`, `index/CURRENT`)"""
    sqlite_synchronous: Literal["NORMAL", "FULL"] = "FULL"
    """`FULL`: acknowledged writes survive a power cut; `NORMAL`: faster, the last may not"""
    sqlite_busy_timeout_ms: int = Field(default=1_000, ge=0)
    """a write waits this long for another process's lock, then answers 503"""

    # storage shared by replicas: PostgreSQL for the store, Redis for popularity and the feed
    database_url: str | None = None
    """articles, events and embeddings: `sqlite:///<path>` (default under DATA_DIR), `postgresql://`"""
    database_timeout_seconds: float = 3.0
    """a write waits this long for a database connection before it answers 503"""
    database_pool_size: int = 8
    """PostgreSQL connections per process"""
    redis_url: str | None = None
    """shared popularity, session de-duplication, change feed; unset: in process (one replica)"""
    redis_prefix: str = "recommender"
    """every Redis key starts with this, so several sites (or test runs) can share one Redis"""
    redis_snapshot_size: int = 5_000
    """articles per window of the local copy of the Redis counters each replica serves from"""
    redis_refresh_seconds: float = 1.0
    """how often that copy (and each cached co-read list) is refreshed; kept while Redis is down"""
    feed_poll_seconds: float = 5.0
    """replicas catch up with the store this often even when no change-feed message arrives"""

    # security: write endpoints need this bearer token; with none set, writes are refused
    api_token: SecretStr | None = None
    """bearer token of the write endpoints; none: writes are refused (503)"""
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["*"])
    """origins allowed to call the API from a browser: comma-separated, or a JSON list"""
    cors_allow_credentials: bool = False
    """send `Access-Control-Allow-Credentials` (only with an explicit origin list, never `*`)"""
    public_base_url: str | None = None
    """the demo page's links to the widget (e.g. `https://reco.example.nl`); none: root-relative"""
    metrics_require_token: bool = False
    """`/metrics` needs the bearer token"""
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """proxies (IPs or CIDRs, comma-separated) whose `X-Forwarded-For` names the client"""
    client_key_secret: SecretStr | None = None
    """key of the hash that stands in for client addresses; none: random, shared through Redis"""
    events_per_minute_per_client: float = Field(default=600.0, gt=0)
    """events one client may send per minute (`POST /v1/events`); beyond: 429 + Retry-After"""
    events_burst_per_client: int = Field(default=500, gt=0)
    """events one client may send at once before the per-minute rate applies"""
    max_readers_per_client: int = Field(default=5, gt=0)
    """readers (sessions) one client can add to one story per de-duplication window"""
    event_clock_skew_seconds: float = Field(default=120.0, ge=0)
    """a client's event time is clamped to at most this far from the server's receive time"""
    max_body_bytes: int = Field(default=1_000_000, gt=0)
    """larger request bodies get 413"""
    max_events_per_batch: int = Field(default=500, gt=0)
    """events in one `POST /v1/events`"""
    max_articles_per_batch: int = Field(default=1_000, gt=0)
    """articles in one `POST /v1/articles`"""

    # embeddings: any sentence-transformers name or path; the default is the bundled MiniLM
    model_name: str = BUNDLED_MODEL
    """sentence-transformers name or path (e.g. a multilingual model); `fake` for tests"""
    embed_batch_size: int = Field(default=64, gt=0)
    """texts per model call"""
    embed_device: str = "cpu"
    """torch device of the model (`cpu`, `cuda`)"""
    embed_max_words: int = Field(default=200, gt=0)
    """words of title + lead + text that are embedded"""
    # bfloat16 roughly doubles CPU throughput where the CPU has native bf16 (AVX512-BF16, AMX)
    # at a mean cosine > 0.999 to float32 (BENCHMARKS.md); elsewhere it is emulated and slower
    embed_dtype: Literal["float32", "bfloat16"] = "float32"
    """`bfloat16`: about twice as fast on CPUs with native bf16 (BENCHMARKS.md)"""

    # tuning (`recommender tune`, POST /v1/admin/tune); the CLI and the API override these
    tune_base_model: str = _TUNE.base_model
    """the model `recommender tune` starts from"""
    tune_device: str = _TUNE.device
    """torch device of tuning (`cpu`, `cuda`, `cuda:N`)"""
    tune_epochs: int = _TUNE.epochs
    """tuning epochs at most (it stops early when validation stops improving)"""
    tune_batch_size: int = _TUNE.batch_size
    """pairs per tuning step (in-batch negatives)"""
    tune_max_pairs: int | None = _TUNE.max_pairs
    """training pairs per epoch at most; none: all"""
    tune_max_minutes: float | None = _TUNE.max_minutes
    """time budget of a tuning run (pairs are sampled to fit); none: no bound"""
    tune_seed: int = _TUNE.seed
    """seed of tuning: the same seed and data give the same model"""
    tune_lr: float = _TUNE.lr
    """tuning learning rate"""
    tune_max_tokens: int = _TUNE.max_tokens
    """tokens per text during tuning"""
    keep_tuned_versions: int = 3
    """tuned model folders kept (the current one always)"""

    # vector index
    index_type: Literal["auto", "flat", "hnsw"] = "auto"
    """`flat` (exact), `hnsw`, or `auto` (HNSW from `HNSW_THRESHOLD` articles)"""
    # "auto" switches to HNSW here: an exact search reads every vector (1.5 KB each), ~1 ms per
    # 10k articles on 2 cores, which breaks a 2 ms p50 well before 100k (see BENCHMARKS.md)
    hnsw_threshold: int = 20_000
    """articles from which `auto` builds HNSW"""
    hnsw_m: int = 32
    """HNSW links per node"""
    hnsw_ef_search: int = 128
    """HNSW search breadth: higher is more exact and slower"""
    hnsw_ef_construction: int = 200
    """HNSW build breadth"""
    neighbour_lists: int = Field(default=128, ge=0)
    """vector neighbours precomputed per article (kept exact on publish; 0: search per request)"""
    keep_index_versions: int = 3
    """index folders kept after a build (the newest ones)"""
    # a running server checks models/index/CURRENT this often and swaps in a new build; 0: off
    index_poll_seconds: float = 10.0
    """how often a server looks for a new build in `index/CURRENT`; 0: never"""
    # with no index on disk at all, start-up embeds the store in memory only up to this size;
    # a bigger store needs `recommender build` first
    max_articles_without_index: int = 20_000
    """with no index on disk, start-up embeds at most this many articles in memory"""

    # popularity
    half_life_hours: float = Field(default=_POPULARITY.half_life_hours, gt=0)
    """popularity half-life; when unset, the learned ranker's half-life is used"""
    trending_long_half_life_hours: float = Field(default=_POPULARITY.long_half_life_hours, gt=0)
    """long window that `trending` compares the short one with"""
    session_dedup_minutes: float = _POPULARITY.session_dedup_minutes
    """one session counts once per article in this window"""
    click_weight: float = _POPULARITY.click_weight
    """popularity of one click"""
    view_weight: float = _POPULARITY.view_weight
    """popularity of one page view"""
    impression_weight: float = _POPULARITY.impression_weight
    """popularity of one impression"""
    dedup_max_entries: int = Field(default=_POPULARITY.dedup_max_entries, ge=1_000)
    """(session, story) pairs and (client, story) reader sets kept at most: bounded memory"""
    popularity_snapshot_seconds: float = Field(default=300.0, ge=0)
    """popularity is saved this often (and at shutdown); a restart replays only newer events"""
    event_retention_days: float = Field(default=30.0, gt=0)
    """raw events older than this are compacted into per-article hourly aggregates"""
    compaction_interval_seconds: float = Field(default=3600.0, ge=0)
    """how often a server compacts events past the retention window (0: only the CLI does)"""
    compaction_batch_events: int = Field(default=10_000, gt=0)
    """events moved per compaction transaction"""

    # ranking
    candidates: int = _RANKING.candidates
    """nearest neighbours fetched before filtering and ranking"""
    popular_candidates: int = _RANKING.popular_candidates
    """most popular articles added to the Lees-ook candidates; 0: none"""
    near_duplicate_threshold: float = _RANKING.near_duplicate_threshold
    """cosine above which a candidate is a copy of the article"""
    popular_dedup_threshold: float = _RANKING.popular_dedup_threshold
    """cosine above which two popular stories are about one event"""
    mmr_lambda: float = _RANKING.mmr_lambda
    """MMR trade-off: 1 is pure relevance, lower is more diverse"""
    freshness_half_life_days: float = _RANKING.freshness_half_life_days
    """age at which the freshness feature halves"""
    weight_similarity: float = 1.0
    """blend weight of similarity, when no ranker file is read"""
    weight_popularity: float = 0.15
    """blend weight of popularity, when no ranker file is read"""
    weight_freshness: float = 0.1
    """blend weight of freshness, when no ranker file is read"""
    weight_same_section: float = 0.05
    """blend weight of the same section, when no ranker file is read"""
    weight_lexical: float = 0.5
    """blend weight of lexical (BM25) similarity, when no ranker file is read"""
    weight_name_overlap: float = 0.5
    """blend weight of shared salient names, when no ranker file is read"""
    weight_coreads: float = 0.3
    """blend weight of co-reads, when no ranker file is read"""
    ranker_path: Path | None = None
    """the learned ranking (`recommender train-ranker`); default `<MODELS_DIR>/ranker.json`"""

    # lexical index (BM25 over title, lead and the start of the text) and co-reads
    lexical_max_words: int = 400
    """words of an article's text (after title and lead) the lexical index reads"""
    lexical_candidates: int = _RANKING.lexical_candidates
    """lexical ("more like this") neighbours added to the Lees-ook candidates; 0: none"""
    lexical_lists: int = Field(default=LexicalListsConfig.depth, ge=0)
    """lexical neighbours precomputed per article (kept above `lexical_candidates`); 0: none"""
    lexical_lists_refresh_share: float = Field(default=LexicalListsConfig.refresh_share, gt=0)
    """share of the corpus that must change before a lexical neighbour list is computed again"""
    lexical_lists_refresh_per_write: int = Field(default=LexicalListsConfig.refresh_per_write, ge=0)
    """stale lexical neighbour lists computed again after each write (oldest first)"""
    coread_candidates: int = _RANKING.coread_candidates
    """co-read neighbours added to the Lees-ook candidates; 0: none"""
    coread_half_life_hours: float = CoReadConfig.half_life_hours
    """age at which a co-read counts half"""
    coread_neighbours: int = CoReadConfig.neighbours
    """co-read partners kept per article (memory bound)"""
    coread_shrinkage: float = CoReadConfig.shrinkage
    """shrinkage of the co-read cosine: pairs read together rarely count less"""
    default_k_related: int = _RANKING.default_k_related
    """Lees-ook items when `k` is not given"""
    default_k_popular: int = 6
    """Populair items when `k` is not given"""
    max_k: int = 50
    """the largest `k` a client may ask for"""

    # numpy's BLAS threads in a serving process. A request's products are tiny (~200 x 384),
    # and a second BLAS thread spin-waits between them: on a busy 2-core machine every product
    # then waited for that thread to be scheduled, and an uncached Lees ook took 9.1 ms at p50
    # against 1.4 ms with one thread (10k articles, load 6-9; BENCHMARKS.md)
    serve_blas_threads: int = Field(default=1, ge=0)
    """numpy (BLAS) threads of a serving process; `0` leaves the library's default"""
    # a full garbage-collector pass walks every loaded card and index entry (186 ms at 100k
    # articles, ~10x at 1M) and the result cache's churn starts one every few thousand requests
    gc_freeze: bool = True
    """keep what start-up and each index swap loaded out of the collector's full passes"""
    # result cache: lists per (article, parameters); article writes invalidate exactly, so the
    # TTL only bounds how late popularity shows; 0 for either turns the cache off
    result_cache_size: int = Field(default=20_000, ge=0)
    """lists kept in the result cache (LRU); `0` turns it off"""
    result_cache_ttl_seconds: float = Field(default=30.0, ge=0)
    """how long a cached list lives; popularity shows at most this late (`0`: off)"""
    # HTTP caching of the lists: browser (max-age) and CDN (s-maxage) lifetimes; a CDN may
    # serve a stale list this long while it fetches a fresh one
    http_max_age_seconds: int = Field(default=30, ge=0)
    """`Cache-Control: max-age` of the lists (browsers)"""
    http_s_maxage_seconds: int = Field(default=60, ge=0)
    """`s-maxage` of the lists (CDNs; purged on article writes)"""
    http_stale_while_revalidate_seconds: int = Field(default=30, ge=0)
    """`stale-while-revalidate` of the lists"""
    purge_url: str | None = None
    """CDN purge hook, POSTed the surrogate keys of written articles (README, Caching)"""
    purge_headers: dict[str, str] = Field(default_factory=dict)
    """extra headers of the purge request, JSON, e.g. `{"Fastly-Key": "..."}`"""
    purge_timeout_seconds: float = Field(default=5.0, gt=0)
    """timeout of one purge request (3 attempts)"""

    # online evaluation: the served-list log and A/B tests of rankings
    served_log: bool = True
    """log every answered list (`served.db` under the data dir) for click-through and A/B tests"""
    served_log_flush_seconds: float = Field(default=1.0, gt=0)
    """the served-list writer writes its queue this often (off the request path)"""
    served_log_max_pending: int = Field(default=50_000, ge=100)
    """lists queued for the writer at most; beyond, the oldest are dropped and counted"""
    served_log_retention_days: float = Field(default=30.0, gt=0)
    """served lists older than this are deleted"""
    variants: list[VariantSpec] = Field(default_factory=list)
    """A/B ranking variants as a JSON list, the control first (README, online evaluation)"""
    experiment: str = "default"
    """readers are split by a hash of this name and their session: a new name reshuffles them"""
    ab_alpha: float = Field(default=0.05, gt=0, lt=0.5)
    """A/B rule: two-sided significance level, split over the comparisons with the control"""
    ab_power: float = Field(default=0.8, gt=0.5, lt=1)
    """A/B rule: power the sample size per arm is computed for"""
    ab_baseline_ctr: float = Field(default=0.05, gt=0, lt=1)
    """A/B rule: the control's expected click-through, for the sample size"""
    ab_min_relative_lift: float = Field(default=0.2, gt=0)
    """A/B rule: the smallest relative lift worth detecting, for the sample size"""

    # evaluation (`recommender evaluate`, `train-ranker`)
    eval_data_dir: Path | None = None
    """MIND folder (`news.tsv`, `behaviors.tsv`) of `evaluate` and `train-ranker`"""
    reports_dir: Path = Path("reports")
    """where `evaluate` writes its report and `train-ranker` its ranker file"""

    @field_validator("cors_origins", "trusted_proxies", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        # `https://a.example,https://b.example` is what an operator writes; JSON works too
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @property
    def trusted_proxy_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(entry, strict=False) for entry in self.trusted_proxies]

    @property
    def db_path(self) -> Path:
        return self.data_dir / "recommender.db"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.db_path}"

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
    def eval_cache_path(self) -> Path:
        return self.data_dir / "eval-cache.db"

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
            dedup_max_entries=self.dedup_max_entries,
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

    def lexical_lists_config(self) -> LexicalListsConfig:
        return LexicalListsConfig(
            depth=self.lexical_lists,
            refresh_share=self.lexical_lists_refresh_share,
            refresh_per_write=self.lexical_lists_refresh_per_write,
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


def settings_reference() -> list[tuple[str, str, str]]:
    """(environment variable, default, meaning) of every setting, in declaration order: the
    README's settings table is generated from this, so the two cannot drift apart."""
    rows = []
    prefix = str(Settings.model_config.get("env_prefix", ""))
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        if default is None:
            shown = "none"
        elif isinstance(default, list):
            shown = json.dumps(default)
        else:
            shown = str(default)
        rows.append((prefix + name.upper(), shown, field.description or ""))
    return rows
