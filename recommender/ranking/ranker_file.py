"""models/ranker.json, the learned ranking the service serves: its one reader and writer.

    {"weights": {...}, "weights_without_entities": {...}, "popularity_half_life_hours": 1.0,
     "gate": {"relevance": ["similarity", ...], "share": 0.3},
     "model": "logistic_regression", "trained_at": "...", ...how it was obtained...}

A file that is absent or unusable never stops the service: it warns and the settings' blend
is used instead.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from recommender.config import Settings
from recommender.fsutil import atomic_write_text
from recommender.ranking.weights import Gate, Weights

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RankerFile:
    """What the service reads from ranker.json; each part is None when absent or unusable."""

    path: Path
    weights: Weights | None
    half_life_hours: float | None


def _blend(value: Any) -> dict[str, float]:
    return {str(k): float(v) for k, v in value.items()}


def _gate(value: Any) -> Gate | None:
    if value is None:
        return None
    share = float(value["share"])
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"gate share {share} is outside [0, 1]")
    return Gate(tuple(str(name) for name in value["relevance"]), share)


def read_ranker_file(path: Path) -> RankerFile:
    """The weights and half-life in path. Each is read on its own, so a file whose weights are
    unusable can still give its half-life."""
    try:
        data = json.loads(path.read_text()) if path.is_file() else None
    except (OSError, ValueError) as exc:
        log.warning("ranker.unusable", extra={"path": str(path), "error": str(exc)})
        return RankerFile(path, None, None)
    if data is None:
        # not a warning (a site may rank with the settings' blend), but logged: a models
        # folder moved elsewhere would otherwise drop the learned ranking unnoticed
        log.info("ranker.absent", extra={"path": str(path), "using": "settings"})
        return RankerFile(path, None, None)
    weights: Weights | None = None
    try:
        portable = data.get("weights_without_entities")
        weights = Weights(
            _blend(data["weights"]),
            source=str(path),
            without_entities=None if portable is None else _blend(portable),
            gate=_gate(data.get("gate")),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("ranker.unusable", extra={"path": str(path), "error": str(exc)})
    learned = data.get("popularity_half_life_hours") if isinstance(data, dict) else None
    half_life = float(learned) if isinstance(learned, int | float) and learned > 0 else None
    return RankerFile(path, weights, half_life)


def served_weights(settings: Settings, file: RankerFile | None = None) -> Weights:
    """The learned blend when the ranker file holds one, else the settings' blend. file: the
    ranker file already read (else it is read here)."""
    file = file or read_ranker_file(settings.resolved_ranker_path)
    return file.weights or Weights(settings.default_weights())


def served_half_life(settings: Settings, file: RankerFile | None = None) -> float:
    """The popularity half-life: an operator's explicit setting wins, else the one the
    evaluation chose on train users (recorded in ranker.json), else the settings' default."""
    if settings.half_life_is_set:
        return settings.half_life_hours
    file = file or read_ranker_file(settings.resolved_ranker_path)
    learned = file.half_life_hours
    return settings.half_life_hours if learned is None else learned


def write_ranker_file(
    path: Path,
    weights: Weights,
    half_life_hours: float,
    details: dict[str, Any],
) -> None:
    """Write the served parts plus how they were obtained (details: data, training, metrics)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "weights": weights.values,
        "model": "logistic_regression",
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "weights_without_entities": weights.without_entities,
        "gate": None
        if weights.gate is None
        else {"relevance": list(weights.gate.relevance), "share": weights.gate.share},
        "features": list(weights.values),
        "popularity_half_life_hours": half_life_hours,
        **details,
    }
    atomic_write_text(path, json.dumps(document, indent=2) + "\n")
    log.info("ranker.written", extra={"path": str(path), "weights": weights.values})
