"""Ranking variants for A/B tests: what each changes, and which reader gets which.

A reader keeps their variant: the split is a stable hash of the experiment name and the session
id, so every page view of one session sees one ranking, and a new experiment name reshuffles."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace

from recommender.config import RankingParams, Settings, VariantSpec
from recommender.ranking.ranker_file import read_ranker_file
from recommender.ranking.weights import Weights

DEFAULT_VARIANT = "default"


@dataclass(frozen=True)
class RankingVariant:
    name: str
    share: float
    weights: Weights
    params: RankingParams
    popular_window: str | None = None


def build_variants(settings: Settings, served: Weights) -> list[RankingVariant]:
    """The settings' variants over the served blend; without any, one "default" variant."""
    params = settings.ranking_params()
    if not settings.variants:
        return [RankingVariant(DEFAULT_VARIANT, 1.0, served, params)]
    return [variant_of(spec, served, params) for spec in settings.variants]


def variant_of(spec: VariantSpec, served: Weights, params: RankingParams) -> RankingVariant:
    weights = served
    if spec.ranker_path is not None:
        weights = read_ranker_file(spec.ranker_path).weights or served
    if spec.weights or spec.signals_off:
        weights = Weights(
            _changed(weights.values, spec),
            source=f"variant {spec.name}",
            without_entities=(
                None
                if weights.without_entities is None
                else _changed(weights.without_entities, spec)
            ),
        )
    if spec.mmr_lambda is not None:
        params = replace(params, mmr_lambda=spec.mmr_lambda)
    return RankingVariant(spec.name, spec.share, weights, params, spec.popular_window)


def _changed(blend: dict[str, float], spec: VariantSpec) -> dict[str, float]:
    out = {**blend, **(spec.weights or {})}
    for name in spec.signals_off:
        out[name] = 0.0
    return out


def assign(
    variants: Sequence[RankingVariant],
    experiment: str,
    session_id: str | None,
    requested: str | None = None,
) -> RankingVariant:
    """The requested variant (the widget asks again for the one it got first; a site may split
    its traffic itself), else the reader's by hash. A variant that no longer exists (the
    experiment changed) is assigned afresh: the answer names the variant it used. A request
    without a session is split at random: sending it all to the control would make the control
    a different population from the treatments and bias the comparison."""
    for variant in variants:
        if variant.name == requested:
            return variant
    if len(variants) == 1:
        return variants[0]
    if session_id is None:
        unit = random.random()
    else:
        digest = hashlib.sha256(f"{experiment}\0{session_id}".encode()).digest()
        unit = int.from_bytes(digest[:8], "big") / 2**64
    point = unit * sum(v.share for v in variants)
    for variant in variants:
        point -= variant.share
        if point < 0:
            return variant
    return variants[-1]
