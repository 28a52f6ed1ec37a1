"""Tuning commands: adapt the embedding model to the store's articles and readers, list the
tuned models, and choose the one `RECOMMENDER_MODEL_NAME=tuned:current` serves.

Exit codes: 0 done; 2 bad input or a named error (one line on stderr); 3 tuned, but not made
current because validation did not improve (`tune --activate` only)."""

from __future__ import annotations

from typing import Annotated

import typer

from recommender.cli.common import err, fails_cleanly, out, progress_bars
from recommender.config import Settings
from recommender.store import open_store

NOT_IMPROVED_EXIT = 3


@fails_cleanly
def tune(
    device: Annotated[str | None, typer.Option(help="cpu, cuda or cuda:N")] = None,
    epochs: Annotated[int | None, typer.Option(help="most epochs (early stopping)")] = None,
    batch_size: Annotated[int | None, typer.Option(help="pairs per batch (negatives)")] = None,
    max_pairs: Annotated[int | None, typer.Option(help="most pairs per epoch (sampled)")] = None,
    max_minutes: Annotated[
        float | None, typer.Option(help="time budget for the whole run; pairs are sampled to fit")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="same seed and data, same model")] = None,
    lr: Annotated[float | None, typer.Option(help="learning rate")] = None,
    max_tokens: Annotated[int | None, typer.Option(help="tokens per training text")] = None,
    base: Annotated[str | None, typer.Option(help="model to start from")] = None,
    activate: Annotated[
        bool, typer.Option(help="make it current if validation improved (exit 3 if not)")
    ] = False,
) -> None:
    """Tune the embedding model on the store's articles (headline ↔ body, passage ↔ passage)
    and co-reads from the event log into models/tuned/<version>. Serve it with
    RECOMMENDER_MODEL_NAME=tuned:current, then `recommender build` re-embeds with it."""
    from recommender.tuning import run_tune

    settings = Settings()
    config = settings.tune_config(
        device=device,
        epochs=epochs,
        batch_size=batch_size,
        max_pairs=max_pairs,
        max_minutes=max_minutes,
        seed=seed,
        lr=lr,
        max_tokens=max_tokens,
        base_model=base,
    )
    store = open_store(settings)
    try:
        with progress_bars() as bars:
            result = run_tune(settings, store, config, bars, activate=activate)
    finally:
        store.close()
    validation = result.manifest["validation"]
    out.print(
        f"tuned {result.manifest['model_name']} in {result.manifest['seconds']:.0f}s: "
        f"validation MRR {validation['before']:.4f} → {validation['after']:.4f} "
        f"({result.manifest['pairs']['trained']} pairs, "
        f"{result.manifest['epochs']['stopped']}) → {result.folder}"
    )
    if activate and not result.activated:
        err.print("not made current: validation MRR did not improve over the base model")
        raise typer.Exit(NOT_IMPROVED_EXIT)
    if result.activated:
        out.print("made current: serve it with RECOMMENDER_MODEL_NAME=tuned:current")


@fails_cleanly
def activate_model(
    version: Annotated[str, typer.Argument(help="a folder name under models/tuned")],
    force: Annotated[
        bool, typer.Option(help="even if its validation did not beat the base model")
    ] = False,
) -> None:
    """Make a tuned model the one RECOMMENDER_MODEL_NAME=tuned:current serves; then run
    `recommender build` and restart the server so every vector comes from it."""
    from recommender.tuning import activate

    settings = Settings()
    activate(settings.tuned_root, version, force)
    out.print(f"tuned:{version} is current; now run `recommender build` and restart the server")


@fails_cleanly
def tuned_models() -> None:
    """List the tuned models, newest first, with their validation before and after."""
    from recommender.tuning import list_versions

    for manifest in list_versions(Settings().tuned_root):
        validation = manifest.get("validation", {})
        mark = "*" if manifest["current"] else " "
        out.print(
            f"{mark} {manifest.get('version')}  base {manifest.get('base_model')}  "
            f"MRR {validation.get('before')} → {validation.get('after')}  "
            f"{manifest.get('created_at')}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
