"""What every evaluation step shares: options, the prepared data (MIND loaded, users split,
articles embedded and indexed), what training learned, and the popularity replayed."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from recommender.config import PopularityConfig, Settings
from recommender.embedding import create_embedder
from recommender.evaluation.data import (
    MindData,
    Pair,
    click_events,
    first_seen,
    load_mind,
    split_users,
)
from recommender.evaluation.protocols import (
    World,
    build_world,
)
from recommender.events import Event
from recommender.logs import ProgressFactory
from recommender.ranking import FEATURES
from recommender.store import SqliteStore

log = logging.getLogger(__name__)


# the features of the second comparison (entity tags passed as CMS tags, so entity overlap is a
# feature); the shipped blend comes from the primary comparison (primary_run.py)
SERVICE_FEATURES = tuple(f for f in FEATURES if f not in ("lexical", "name_overlap", "coreads"))
SHIPPED = "learned"  # the variant the service ships (with MMR, as the service always applies)


@dataclass(frozen=True)
class EvalOptions:
    news: Path
    behaviors: Path
    out: Path = Path("reports/mind")
    seed: int = 42
    test_fraction: float = 0.3
    quick: bool = False
    cache_path: Path = Path("var/eval-cache.db")
    half_lives: tuple[float, ...] = (1.0, 3.0, 6.0, 12.0, 24.0, 48.0, 96.0)
    popularity_weights: tuple[float, ...] = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
    popular_candidates: int = 50
    quick_limit: int = 150


@dataclass
class Prepared:
    data: MindData
    train: set[str]
    test: set[str]
    world: World
    known: set[str]
    train_events: list[Any]
    first_seen: dict[str, float]
    settings: Settings
    options: EvalOptions


@dataclass
class Learned:
    half_life_hours: float
    half_life_table: dict[str, dict[str, float]]
    weights: dict[str, dict[str, float]]
    training: dict[str, Any] = field(default_factory=dict)


def subsample(items: Sequence[Any], limit: int, seed: int) -> list[Any]:
    if len(items) <= limit:
        return list(items)
    picks = np.random.default_rng(seed).choice(len(items), size=limit, replace=False)
    return [items[i] for i in sorted(picks.tolist())]


def prepare(options: EvalOptions, settings: Settings, bars: ProgressFactory | None) -> Prepared:
    data = load_mind(options.news, options.behaviors)
    train, test = split_users(data.users(), options.test_fraction, options.seed)
    embedder = create_embedder(settings)
    store = SqliteStore(options.cache_path, "NORMAL")
    try:
        params = replace(settings.ranking_params(), popular_candidates=options.popular_candidates)
        step = bars("embedding", len(data.articles)) if bars else None
        world = build_world(data.articles, store, embedder, params, settings.embed_max_words, step)
    finally:
        store.close()
    known = {a.id for a in data.articles}
    return Prepared(
        data,
        train,
        test,
        world,
        known,
        click_events(data, train),
        first_seen(data),
        settings,
        options,
    )


def replay_popularity_config(settings: Settings, half_life_hours: float) -> PopularityConfig:
    return PopularityConfig(
        half_life_hours=half_life_hours,
        long_half_life_hours=max(settings.trending_long_half_life_hours, 4 * half_life_hours),
        session_dedup_minutes=settings.session_dedup_minutes,
        click_weight=1.0,
    )


def impressions_of(prep: Prepared, users: set[str], options: EvalOptions, salt: int) -> list[Any]:
    imps = [i for i in prep.data.impressions if i.user_id in users]
    return subsample(imps, options.quick_limit * 2, options.seed + salt) if options.quick else imps


def _fold(user: str, seed: int) -> int:
    return hashlib.sha256(f"fold\0{seed}\0{user}".encode()).digest()[0] % 2


def fold_split(
    prep: Prepared, pairs: Sequence[Pair], seed: int, fold: int
) -> tuple[list[Pair], list[Event]]:
    """One of two folds of train users: its pairs, and the events of the OTHER fold's users, so a
    user's own click never shows up as the popularity of the article they clicked."""
    fold_pairs = [p for p in pairs if _fold(p.user_id, seed) == fold]
    others = {u for u in prep.train if _fold(u, seed) != fold}
    return fold_pairs, [e for e in prep.train_events if e.session_id in others]
