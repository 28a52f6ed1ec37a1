"""The service's index lifecycle and rebuild calls: reload, watch (and, with shared state,
follow the other replicas), background rebuilds. Mixed into RecommenderService, which sets
these parts up."""

from __future__ import annotations

from typing import Any

from recommender.config import Settings
from recommender.service.jobs import Job, RebuildJobs
from recommender.service.lifecycle import IndexLifecycle, ReloadResult
from recommender.service.shared import SharedUpkeep


class IndexCalls:
    settings: Settings
    _lifecycle: IndexLifecycle
    _upkeep: SharedUpkeep
    _jobs: RebuildJobs

    def reload_if_changed(self, force: bool = False) -> ReloadResult:
        return self._lifecycle.reload_if_changed(force)

    def start_watching(self, interval: float) -> None:
        """Poll for new index builds and, with shared state, follow the other replicas."""
        self._lifecycle.start_watching(interval)
        if self.settings.redis_url is not None:
            self._upkeep.start()

    def stop_watching(self) -> None:
        self._lifecycle.stop_watching()
        self._upkeep.stop()

    def start_rebuild(self) -> Job:
        return self._jobs.start()

    def rebuild_status(self) -> dict[str, Any] | None:
        return self._jobs.status()

    def wait_for_rebuild(self, timeout: float | None = None) -> None:
        self._jobs.wait(timeout)
