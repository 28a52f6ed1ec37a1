"""Tuning the embedding model as a background job of the running service (one at a time; the
served model changes only after activation, a rebuild and a restart)."""

from __future__ import annotations

from typing import Any

from recommender.config import Settings
from recommender.service.jobs import BackgroundJobs, Job
from recommender.store import Store


class TuneJobsMixin:
    """Mixed into RecommenderService, which sets these up."""

    settings: Settings
    _store: Store
    _tune: Any  # the tuning function (injected: tests run a fake one)
    _tune_jobs: BackgroundJobs

    def start_tune(self, activate: bool = False, **options: Any) -> Job:
        """Tune the embedding model in the background (the options override the settings'
        tune_* values; bad ones raise InvalidInput at once). The served model changes only
        after activation, a rebuild and a restart."""
        config = self.settings.tune_config(**options)

        def work() -> dict[str, Any]:
            result = self._tune(self.settings, self._store, config, activate=activate)
            manifest = result.manifest
            return {
                "folder": result.folder.name,
                "model_name": manifest["model_name"],
                "validation_before": manifest["validation"]["before"],
                "validation_after": manifest["validation"]["after"],
                "pairs": manifest["pairs"]["trained"],
                "stopped": manifest["epochs"]["stopped"],
                "activated": result.activated,
                "seconds": manifest["seconds"],
            }

        return self._tune_jobs.start_work(work)

    def tune_status(self) -> dict[str, Any] | None:
        return self._tune_jobs.status()

    def wait_for_tune(self, timeout: float | None = None) -> None:
        self._tune_jobs.wait(timeout)
