"""Tuned models on disk: one folder per version with the model and a manifest, written to a
partial folder and renamed, and the CURRENT pointer that `tuned:current` serves.

    models/tuned/
      CURRENT                               the version `RECOMMENDER_MODEL_NAME=tuned:current` uses
      20251006T120000123456Z-3f2a9c1d/      manifest.json, model/ (a sentence-transformers folder)
      20251006T130000654321Z-....partial    a run in progress, or one that was killed
      .build.lock                           flock held by the running tune
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from recommender.artifacts import (
    PARTIAL,
    build_lock,
    clean_partial,
    current_folder,
    switch_current,
    version_folders,
)
from recommender.errors import (
    BuildInProgress,
    ModelNotFound,
    ModelNotImproved,
    TuneInProgress,
)
from recommender.fsutil import atomic_write_json, fsync_path

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
MODEL = "model"


@contextmanager
def tune_lock(root: Path) -> Iterator[None]:
    """One tuning run at a time per models folder; leftovers of a killed run are removed."""
    try:
        with build_lock(root):
            removed = clean_partial(root)
            if removed:
                log.warning("tune.cleaned_partial", extra={"folders": [p.name for p in removed]})
            yield
    except BuildInProgress as exc:
        if isinstance(exc, TuneInProgress):
            raise
        raise TuneInProgress(f"another tuning run is working in {root}") from None


def new_version(fingerprint: str) -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{fingerprint[:8]}"


@contextmanager
def partial_folder(root: Path, version: str) -> Iterator[Path]:
    """A folder to write a version into; removed if writing fails. (A run killed outright
    leaves it, named .partial, for the next run's tune_lock to remove.)"""
    folder = root / f"{version}{PARTIAL}"
    folder.mkdir(parents=True)
    try:
        yield folder
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def publish(partial: Path, manifest: dict[str, Any]) -> Path:
    """Write the manifest last, then rename: a folder without PARTIAL is always complete."""
    atomic_write_json(partial / MANIFEST, manifest, indent=2)
    final = partial.with_name(partial.name.removesuffix(PARTIAL))
    os.replace(partial, final)
    fsync_path(final.parent)
    return final


def read_manifest(folder: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        raise ModelNotFound(f"no tuned model {folder.name!r} in {folder.parent}") from None
    return manifest


def list_versions(root: Path) -> list[dict[str, Any]]:
    """Manifests of the complete tuned models, newest first, each with `current`."""
    current = current_folder(root)
    listed = []
    for folder in version_folders(root):
        if (folder / MANIFEST).is_file():
            listed.append(read_manifest(folder) | {"current": folder == current})
    return listed


def improved(manifest: dict[str, Any]) -> bool:
    validation = manifest.get("validation", {})
    before, after = validation.get("before"), validation.get("after")
    return isinstance(before, float | int) and isinstance(after, float | int) and after > before


def activate(root: Path, version: str, force: bool = False) -> dict[str, Any]:
    """Make a tuned version the one `tuned:current` serves. A version whose validation did not
    beat its base model is refused unless forced."""
    if not version or "/" in version or version.endswith(PARTIAL) or version in (".", ".."):
        raise ModelNotFound(f"no tuned model {version!r} in {root}")
    folder = root / version
    manifest = read_manifest(folder)
    if not improved(manifest) and not force:
        validation = manifest.get("validation", {})
        raise ModelNotImproved(
            f"tuned model {version} did not improve validation MRR "
            f"({validation.get('before')} → {validation.get('after')}); "
            "pass --force to make it current anyway"
        )
    switch_current(root, folder)
    log.info("tune.activated", extra={"version": version, "forced": force})
    return manifest
