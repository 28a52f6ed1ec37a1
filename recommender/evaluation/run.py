"""The whole evaluation as one function: load MIND, split users, choose the popularity half-life
and learn the blend on train users, then score every variant on test users.

Nothing is chosen on test users: the half-life, the learned weights and the shipped variant are
all fixed before the test users are looked at.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from recommender.config import Settings
from recommender.evaluation.data import (
    Pair,
    next_click_pairs,
)
from recommender.evaluation.impressions import (
    context_scorer,
    impression_scores,
    popularity_scorer,
    random_scorer,
)
from recommender.evaluation.primary_run import ranker_file_check, run_primary
from recommender.evaluation.protocols import LIST_K, Variant, evaluate_lees_ook
from recommender.evaluation.selection import learn
from recommender.evaluation.setup import (
    SHIPPED,
    EvalOptions,
    Learned,
    Prepared,
    impressions_of,
    prepare,
    replay_popularity_config,
    subsample,
)
from recommender.evaluation.topical import PORTABLE, content_variants
from recommender.logs import ProgressFactory
from recommender.popularity import Popularity

log = logging.getLogger(__name__)


def variants(settings: Settings, learned: Learned, options: EvalOptions) -> list[Variant]:
    content = {"similarity": 1.0, "lexical": 1.0}
    base = [
        Variant("random", "random", family="baseline"),
        Variant("popularity", "popular", family="baseline"),
    ]
    ranked = [
        *(v for v in content_variants() if v.use_mmr),
        Variant("settings", "blend", settings.default_weights(), family="settings"),
        *(
            Variant(f"blend pop={w:g}", "blend", {**content, "popularity": w}, True, True, "blend")
            for w in options.popularity_weights
        ),
        Variant(
            "learned+lexical", "blend", learned.weights["learned+lexical"], True, True, "learned"
        ),
        Variant(
            "learned (clicks only)",
            "blend",
            learned.weights["learned (clicks only)"],
            family="learned",
        ),
        Variant(PORTABLE, "blend", learned.weights[PORTABLE], family="learned"),
        Variant(
            SHIPPED,
            "blend",
            learned.weights[SHIPPED],
            False,
            True,
            "learned",
            without_entities=learned.weights[PORTABLE],
        ),
    ]
    no_mmr = [replace(v, name=f"{v.name} -mmr", use_mmr=False) for v in ranked]
    return base + ranked + no_mmr


def run_evaluation(
    options: EvalOptions, settings: Settings, bars: ProgressFactory | None = None
) -> dict[str, Any]:
    started = time.perf_counter()
    prep = prepare(options, settings, bars)
    learned = learn(prep, options, bars)
    all_variants = variants(settings, learned, options)
    pairs, test_pair_stats = next_click_pairs(prep.data, prep.test, prep.known)
    if options.quick:
        pairs = subsample(pairs, options.quick_limit, options.seed + 3)
    popularity = replay_popularity_config(settings, learned.half_life_hours)
    step = bars("lees ook", len(pairs)) if bars else None
    lees_ook = evaluate_lees_ook(
        prep.world,
        pairs,
        prep.train_events,
        popularity,
        all_variants,
        options.seed,
        prep.first_seen,
        prep.data.end,
        step,
    )
    impressions = test_impressions(prep, learned, options, all_variants, bars)
    test_pair_stats.update(pair_topicality(prep, pairs))
    result: dict[str, Any] = {
        "data": data_summary(prep, options),
        "options": options_summary(options, settings),
        "half_life_hours": learned.half_life_hours,
        "half_life_train": learned.half_life_table,
        "training": learned.training,
        "test_pairs": test_pair_stats,
        "weights": {v.name: v.weights for v in all_variants if v.weights},
        "variants": {
            v.name: {"family": v.family, "mmr": v.use_mmr, "lexical": v.lexical, "kind": v.kind}
            for v in all_variants
        },
        "lees_ook": lees_ook,
        "impressions": impressions,
        "shipped": SHIPPED,
    }
    result["acceptance"] = acceptance(result)
    result["primary"] = run_primary(prep, options, learned.half_life_hours, bars)
    result["ranker_file"] = ranker_file_check(settings, result["primary"])
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def data_summary(prep: Prepared, options: EvalOptions) -> dict[str, Any]:
    return {
        "news": str(options.news),
        "behaviors": str(options.behaviors),
        "fingerprint": prep.data.fingerprint,
        "articles_with_text": len(prep.data.articles),
        **prep.data.stats,
        "train_users": len(prep.train),
        "test_users": len(prep.test),
    }


def options_summary(options: EvalOptions, settings: Settings) -> dict[str, Any]:
    return {
        "seed": options.seed,
        "test_fraction": options.test_fraction,
        "quick": options.quick,
        "model": settings.model_name,
        "list_k": LIST_K,
        "popular_candidates": options.popular_candidates,
        "mmr_lambda": settings.mmr_lambda,
        "settings_half_life_hours": settings.half_life_hours,
    }


def pair_topicality(prep: Prepared, pairs: Sequence[Pair]) -> dict[str, int]:
    """How often the article read next is topically related to the one before: why the
    behavioural and the topical goals pull apart on this data."""
    shared_entity = same_sub = same_section = 0
    for pair in pairs:
        a, b = prep.world.catalog.get(pair.query), prep.world.catalog.get(pair.target)
        if a is None or b is None:
            continue
        shared_entity += bool(set(a.entities) & set(b.entities))
        same_sub += bool(a.tags and b.tags and a.tags[0] == b.tags[0])
        same_section += a.section == b.section
    return {
        "target_shares_entity": shared_entity,
        "target_same_subcategory": same_sub,
        "target_same_section": same_section,
    }


def test_impressions(
    prep: Prepared,
    learned: Learned,
    options: EvalOptions,
    all_variants: Sequence[Variant],
    bars: ProgressFactory | None,
) -> dict[str, dict[str, dict[str, float]]]:
    imps = impressions_of(prep, prep.test, options, 4)
    chosen = Popularity(replay_popularity_config(prep.settings, learned.half_life_hours))
    alltime = Popularity(replay_popularity_config(prep.settings, learned.half_life_hours))
    popular = {
        f"decayed {learned.half_life_hours:g}h (chosen)": (chosen, popularity_scorer("decayed")),
        "trending": (chosen, popularity_scorer("trending")),
        "all-time clicks": (alltime, popularity_scorer("alltime")),
        "random": (chosen, random_scorer(options.seed)),
    }
    if prep.settings.half_life_hours != learned.half_life_hours:
        own = Popularity(replay_popularity_config(prep.settings, prep.settings.half_life_hours))
        popular[f"decayed {prep.settings.half_life_hours:g}h (settings default)"] = (
            own,
            popularity_scorer("decayed"),
        )
    context = {
        f"context {v.name}": (chosen, context_scorer(prep.world, v, prep.known))
        for v in all_variants
        if v.use_mmr  # MMR does not change scores, only list order: one row per blend
    }
    step = bars("impressions", len(imps)) if bars else None
    both = impression_scores(imps, prep.train_events, {**popular, **context}, options.seed, step)
    return {
        "populair_nieuws": {name: both[name] for name in popular},
        "lees_ook_context": {name.removeprefix("context "): both[name] for name in context},
    }


def acceptance(result: dict[str, Any]) -> dict[str, Any]:
    """The issue's acceptance figures, computed on test users."""
    lees = result["lees_ook"]
    shipped = lees[SHIPPED]
    content = [n for n, v in result["variants"].items() if v["family"] == "content"]
    best_content = max(content, key=lambda n: _num(lees[n].get("entity_p@5")))
    pop = _num(lees["popularity"].get("ndcg@10"))
    dominated_by = [
        n
        for n, v in result["variants"].items()
        if v["family"] == "blend"
        and _num(lees[n].get("ndcg@10")) > _num(shipped.get("ndcg@10"))
        and _num(lees[n].get("entity_p@5")) > _num(shipped.get("entity_p@5"))
    ]
    pn = result["impressions"]["populair_nieuws"]
    # the service decays with settings.half_life_hours: both it and the half-life chosen on
    # train users must beat all-time counts and random
    decayed = [n for n in pn if n.startswith("decayed")]
    beats = all(
        _num(pn[mine][m]) > _num(pn[other][m])
        for mine in decayed
        for other in ("all-time clicks", "random")
        for m in ("auc", "ndcg@10")
    )
    entity_ratio = _ratio(shipped.get("entity_p@5"), lees[best_content].get("entity_p@5"))
    click_ratio = _ratio(shipped.get("ndcg@10"), pop)
    return {
        "best_content_variant": best_content,
        "entity_p@5_ratio": entity_ratio,
        "next_click_ndcg@10_ratio": click_ratio,
        "entity_target_met": entity_ratio >= 0.9,
        "click_target_met": click_ratio >= 0.75,
        "dominated_by_fixed_blends": dominated_by,
        "populair_nieuws_beats_alltime_and_random": beats,
    }


def _num(value: Any) -> float:
    return float(value) if value is not None and not math.isnan(float(value)) else -math.inf


def _ratio(a: Any, b: Any) -> float:
    x, y = _num(a), _num(b)
    return round(x / y, 4) if y > 0 and math.isfinite(x) else math.nan
