"""One tuning run: survey the store, hold out a validation slice, score the base model, train
within the pair and time budgets with early stopping, and write a new tuned-model folder. It
becomes the served model only when asked to and only when validation improved."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from recommender import __version__
from recommender.artifacts import prune
from recommender.config import Settings, TuneConfig
from recommender.embedding import TUNED_PREFIX, resolve_model
from recommender.errors import InvalidInput
from recommender.logs import ProgressFactory
from recommender.store import Store
from recommender.tuning import artifact
from recommender.tuning.pairs import (
    PairStream,
    Split,
    Survey,
    coread_partners,
    survey,
    validation_share,
)
from recommender.tuning.validation import (
    MIN_VALIDATION,
    ValidationCollector,
    ValidationSet,
    retrieval_mrr,
)

log = logging.getLogger(__name__)

BUDGET_SAFETY = 0.8


@dataclass(frozen=True)
class TuneResult:
    folder: Path
    manifest: dict[str, Any]
    activated: bool


def _noop_bars(label: str, total: int) -> Any:
    return lambda n: None


@dataclass
class Prepared:
    stream: PairStream
    survey: Survey
    validation: ValidationSet


def prepare(store: Store, config: TuneConfig, bars: ProgressFactory) -> Prepared:
    published = store.count_published()
    split = Split(config.seed, validation_share(published, config))
    partners = coread_partners(store.iter_events(), split, config.min_coread_pairs)
    stream = PairStream(store, split, config, partners)
    collector = ValidationCollector(stream.words)
    surveyed = survey(stream, bars("survey", published), collector.add)
    validation = collector.held
    if len(validation) < MIN_VALIDATION:
        raise InvalidInput(
            f"too few articles to tune on: {surveyed.published} published, {len(validation)} "
            f"held out with a headline and a body (need {MIN_VALIDATION})"
        )
    if surveyed.total_pairs < config.batch_size:
        raise InvalidInput(
            f"too few training pairs: {surveyed.total_pairs} for a batch of {config.batch_size}"
        )
    return Prepared(stream, surveyed, validation)


def sampling_rate(
    config: TuneConfig,
    total_pairs: int,
    validation_seconds: float,
    pair_seconds: float,
    seconds_left: float | None,
) -> float:
    """Share of the pairs kept per epoch: within max_pairs, and, when the run has a time
    budget, within the time left after one validation per epoch at the measured seconds per
    training pair."""
    budget = float(config.max_pairs or total_pairs)
    if seconds_left is not None:
        train_seconds = seconds_left * BUDGET_SAFETY - validation_seconds * config.epochs
        budget = min(budget, max(train_seconds, 0.0) / max(pair_seconds, 1e-6) / config.epochs)
    return min(1.0, budget / max(total_pairs, 1))


def measured_pair_seconds(trainer: Any, prepared: Prepared) -> float:
    """Seconds per training pair, timed on one batch (a sample of its own: epoch 0)."""
    batch = next(prepared.stream.batches(0, 1.0))
    return float(trainer.time_step(batch)) / len(batch)


def run_tune(
    settings: Settings,
    store: Store,
    config: TuneConfig,
    bars: ProgressFactory | None = None,
    activate: bool = False,
) -> TuneResult:
    """Tune config.base_model on the store's articles (and co-reads) into a new version folder
    under settings.tuned_root; with activate, make it current if validation improved. A failed
    or killed run leaves no complete-looking folder and never touches CURRENT."""
    bars = bars or _noop_bars
    started = time.monotonic()
    deadline = started + config.max_minutes * 60 if config.max_minutes else None
    root = settings.tuned_root
    with artifact.tune_lock(root):
        prepared = prepare(store, config, bars)
        name, location = resolve_model(config.base_model, root)
        from recommender.tuning.train import Trainer  # torch is imported only to tune

        trainer = Trainer(name, location, config)
        scored = time.monotonic()
        texts = 2 * len(prepared.validation)
        before = retrieval_mrr(trainer, prepared.validation, bars("validate", texts))
        validation_seconds = time.monotonic() - scored
        pair_seconds = 0.0 if deadline is None else measured_pair_seconds(trainer, prepared)
        left = None if deadline is None else deadline - time.monotonic()
        pairs = prepared.survey.total_pairs
        keep = sampling_rate(config, pairs, validation_seconds, pair_seconds, left)
        history = _train(trainer, prepared, config, keep, deadline, validation_seconds, bars)
        if history.best_state is None:
            raise InvalidInput(
                f"the time budget ({config.max_minutes} min) ran out before any training "
                f"({time.monotonic() - started:.0f} s to read {prepared.survey.published} "
                "articles and score the base model): allow more minutes"
            )
        manifest = _manifest(config, name, prepared, keep, before, history, started)
        version = artifact.new_version(prepared.survey.fingerprint)
        manifest = {"version": version, "model_name": TUNED_PREFIX + version} | manifest
        trainer.restore(history.best_state)
        with artifact.partial_folder(root, version) as partial:
            trainer.save(partial / artifact.MODEL)
            folder = artifact.publish(partial, manifest)
        log.info("tune.done", extra={"folder": str(folder), "validation": manifest["validation"]})
        activated = activate and artifact.improved(manifest)
        if activated:
            artifact.activate(root, folder.name)
        prune(root, settings.keep_tuned_versions)
    return TuneResult(folder, manifest, activated)


@dataclass
class History:
    best_state: Any
    best_score: float
    best_epoch: int
    epochs_run: int = 0
    pairs_seen: int = 0
    steps: int = 0
    stopped: str = "completed"
    scores: list[float] = field(default_factory=list)


def _train(
    trainer: Any,
    prepared: Prepared,
    config: TuneConfig,
    keep: float,
    deadline: float | None,
    validation_seconds: float,
    bars: ProgressFactory,
) -> History:
    """Epochs until done, no better than the best for `patience` epochs, or out of time (the
    final validation is kept inside the budget). Returns the best epoch's weights."""
    planned_pairs = max(1, math.ceil(prepared.survey.total_pairs * keep))
    trainer.plan(config.epochs * max(1, planned_pairs // config.batch_size))
    history = History(None, -1.0, 0)
    # stop training while one more validation still fits in the budget
    stop_at = None if deadline is None else deadline - validation_seconds * 1.2
    stale = 0
    for epoch in range(1, config.epochs + 1):
        steps_before = history.steps
        out_of_time = _epoch(trainer, prepared, config, keep, epoch, stop_at, history, bars)
        history.epochs_run = epoch
        if history.steps == steps_before:  # no time to train: the model is unchanged
            history.stopped = "time_budget" if out_of_time or keep == 0 else "completed"
            break
        texts = 2 * len(prepared.validation)
        score = retrieval_mrr(trainer, prepared.validation, bars("validate", texts))
        history.scores.append(score)
        log.info("tune.epoch", extra={"epoch": epoch, "validation_mrr": score})
        stale = stale + 1 if score <= history.best_score else 0
        if score > history.best_score:
            history.best_state, history.best_score = trainer.snapshot(), score
            history.best_epoch = epoch
        if out_of_time:
            history.stopped = "time_budget"
            break
        if stale >= config.patience and epoch < config.epochs:
            history.stopped = "early_stopping"
            break
    return history


def _epoch(
    trainer: Any,
    prepared: Prepared,
    config: TuneConfig,
    keep: float,
    epoch: int,
    stop_at: float | None,
    history: History,
    bars: ProgressFactory,
) -> bool:
    """One pass over the sampled pairs; True when it stopped for time."""
    advance = bars(f"epoch {epoch}", max(1, math.ceil(prepared.survey.total_pairs * keep)))
    room = config.max_pairs or math.inf  # sampling hits max_pairs on average; never more
    step_seconds = 0.0  # the last step's: the next one must also end before stop_at
    for batch in prepared.stream.batches(epoch, keep):
        if stop_at is not None and time.monotonic() + step_seconds > stop_at:
            return True
        stepped = time.monotonic()
        batch = batch[: int(min(room, len(batch)))]
        if len(batch) < 2:
            break
        room -= len(batch)
        loss = trainer.step(batch)
        step_seconds = time.monotonic() - stepped
        history.pairs_seen += len(batch)
        history.steps += 1
        advance(len(batch))
        if history.steps % 50 == 0:
            log.info("tune.step", extra={"step": history.steps, "loss": round(loss, 4)})
    return False


def _manifest(
    config: TuneConfig,
    base_name: str,
    prepared: Prepared,
    keep: float,
    before: float,
    history: History,
    started: float,
) -> dict[str, Any]:
    surveyed = prepared.survey
    return {
        "base_model": base_name,
        "created_at": datetime.now(UTC).isoformat(),
        "package_version": __version__,
        "data_fingerprint": surveyed.fingerprint,
        "articles": {
            "published": surveyed.published,
            "train": surveyed.train_articles,
            "validation": len(prepared.validation),
        },
        "pairs": {
            "available": dict(surveyed.pairs),
            "sampling_rate": round(keep, 6),
            "trained": history.pairs_seen,
            "steps": history.steps,
        },
        "epochs": {
            "planned": config.epochs,
            "run": history.epochs_run,
            "best": history.best_epoch,
            "stopped": history.stopped,
        },
        "options": {
            "seed": config.seed,
            "lr": config.lr,
            "batch_size": config.batch_size,
            "max_tokens": config.max_tokens,
            "max_pairs": config.max_pairs,
            "max_minutes": config.max_minutes,
            "device": config.device,
        },
        "validation": {
            "metric": "headline_to_own_body_mrr",
            "articles": len(prepared.validation),
            "before": before,
            "after": history.best_score,
            "per_epoch": history.scores,
        },
        "seconds": round(time.monotonic() - started, 1),
    }
