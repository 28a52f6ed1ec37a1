"""The learned blend: logistic regression over the ranker's own features, fitted on next-click
pairs.

Why logistic regression: the Ranker scores with a linear `Weights` blend, so a linear model's
coefficients ARE the shipped ranking, `explain=true` stays a faithful sum of parts, and no
second scoring path exists. Gradient boosting would need a scorer abstraction in the ranker for
a gain we do not see on a few thousand click pairs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression

from recommender.logs import Progress
from recommender.ranking import FEATURES, Ranker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingSet:
    x: np.ndarray
    y: np.ndarray
    queries: int
    target_not_in_candidates: int
    unknown_query: int
    groups: np.ndarray | None = None  # query number of each row, for pairwise fitting


def training_rows(
    ranker: Ranker,
    pairs: Sequence[tuple[str, str, float]],
    progress: Progress | None = None,
) -> TrainingSet:
    """Features of every candidate the ranker considers for each (query, target, moment), from
    `Ranker.candidates` and `Ranker.features`, the functions serving uses; label 1 for the
    article read next. A target outside the candidates is added with its own features (and
    counted), so the blend also learns what the neighbour search misses."""
    rows: list[list[float]] = []
    labels: list[int] = []
    groups: list[int] = []
    queries = missing = unknown = 0
    for query, target, ts in pairs:
        if progress:
            progress(1)
        found = ranker.candidates(query, now=ts)
        if found is None:
            unknown += 1
            continue
        cards, features = found.cards, found.features
        target_card = ranker.catalog.get(target)
        if target not in {c.id for c in cards}:
            if target_card is None or target not in ranker.index:
                unknown += 1
                continue
            missing += 1
            # features of the whole list again, target included: similarity is relative to
            # the other candidates, so the target must be scaled among them, not alone
            cards = [*cards, target_card]
            features = ranker.score_candidates(query, cards, ts).features
        queries += 1
        for card, feats in zip(cards, features, strict=True):
            rows.append([feats[name] for name in FEATURES])
            labels.append(int(card.id == target))
            groups.append(queries)
    x = np.array(rows, dtype=np.float64).reshape(-1, len(FEATURES))
    return TrainingSet(x, np.array(labels), queries, missing, unknown, np.array(groups))


def merge(sets: Sequence[TrainingSet]) -> TrainingSet:
    """One training set from several (e.g. folds); query numbers stay distinct."""
    groups: list[np.ndarray] = []
    offset = 0
    for part in sets:
        part_groups = part.groups if part.groups is not None else np.zeros(len(part.y), int)
        groups.append(part_groups + offset)
        offset += part.queries
    return TrainingSet(
        np.vstack([s.x for s in sets]) if sets else np.zeros((0, len(FEATURES))),
        np.concatenate([s.y for s in sets]) if sets else np.zeros(0, int),
        sum(s.queries for s in sets),
        sum(s.target_not_in_candidates for s in sets),
        sum(s.unknown_query for s in sets),
        np.concatenate(groups) if groups else np.zeros(0, int),
    )


def _pairwise(
    data: TrainingSet, columns: list[int], seed: int, negatives: int = 50
) -> tuple[np.ndarray, np.ndarray]:
    """Differences clicked − not clicked within each query (both signs): a linear model on
    them learns the ORDER within a list, which is what the ranker uses (RankSVM-style)."""
    if data.groups is None:
        raise ValueError("pairwise fitting needs query groups")
    rng = np.random.default_rng(seed)
    diffs: list[np.ndarray] = []
    x = data.x[:, columns]
    order = np.argsort(data.groups, kind="stable")
    bounds = np.flatnonzero(np.diff(data.groups[order])) + 1
    for rows in np.split(order, bounds):
        pos = rows[data.y[rows] == 1]
        neg = rows[data.y[rows] == 0]
        if len(pos) == 0 or len(neg) == 0:
            continue
        if len(neg) > negatives:
            neg = rng.choice(neg, size=negatives, replace=False)
        diffs.append((x[pos][:, None, :] - x[neg][None, :, :]).reshape(-1, len(columns)))
    if not diffs:
        raise ValueError("training needs queries with clicked and not-clicked candidates")
    d = np.vstack(diffs)
    return np.vstack([d, -d]), np.concatenate([np.ones(len(d)), np.zeros(len(d))])


def fit_weights(
    data: TrainingSet,
    features: Sequence[str],
    seed: int,
    c: float = 1.0,
    method: str = "pointwise",
) -> dict[str, float]:
    """Logistic-regression coefficients for the chosen features, scaled to an L1 norm of 1 so
    the blend lives on the scale MMR's closeness penalty expects (features are in [0, 1]).
    pointwise: clicked vs not clicked rows (class-balanced); pairwise: see `_pairwise`."""
    columns = [FEATURES.index(name) for name in features]
    if data.y.sum() == 0 or data.y.sum() == len(data.y):
        raise ValueError("training needs both clicked and not-clicked candidates")
    if method == "pairwise":
        x, y = _pairwise(data, columns, seed)
        model = LogisticRegression(C=c, fit_intercept=False, max_iter=2_000, random_state=seed)
        model.fit(x, y)
    else:
        model = LogisticRegression(C=c, class_weight="balanced", max_iter=2_000, random_state=seed)
        model.fit(data.x[:, columns], data.y)
    coef = model.coef_.ravel()
    norm = float(np.abs(coef).sum()) or 1.0
    return {name: round(float(w) / norm, 6) for name, w in zip(features, coef, strict=True)}
