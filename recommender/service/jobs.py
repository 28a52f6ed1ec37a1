"""Background rebuilds started through the admin API: one at a time, swapped in when done. The
build itself is injected, so tests can give a failing or a slow one."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from recommender.build import BuildResult
from recommender.errors import BuildInProgress, IndexNotFound, RecommenderError
from recommender.service.lifecycle import ReloadResult

log = logging.getLogger(__name__)


@dataclass
class RebuildJob:
    """A rebuild started through the admin API; read its fields under the jobs' lock."""

    id: str
    status: Literal["running", "succeeded", "failed"] = "running"
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    finished_at: str | None = None
    folder: str | None = None
    count: int | None = None
    reused: int | None = None
    embedded: int | None = None
    seconds: float | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


class RebuildJobs:
    def __init__(
        self, build: Callable[[], BuildResult], reload: Callable[[bool], ReloadResult]
    ) -> None:
        self._build = build
        self._reload = reload
        self._lock = threading.Lock()
        self._job: RebuildJob | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> RebuildJob:
        """Run a full build in a background thread, then swap it in. Raises BuildInProgress when
        one is already running. A failed build leaves the serving index as it was."""
        with self._lock:
            if self._job is not None and self._job.status == "running":
                raise BuildInProgress(f"rebuild {self._job.id} is still running")
            job = RebuildJob(id=uuid.uuid4().hex[:12])
            self._job = job
            self._thread = threading.Thread(
                target=self._run, args=(job,), name=f"rebuild-{job.id}", daemon=True
            )
            self._thread.start()
        log.info("rebuild.started", extra={"job": job.id})
        return job

    def _run(self, job: RebuildJob) -> None:
        try:
            result = self._build()
            reload = self._reload(True)
            if not reload.swapped and reload.folder != result.folder.name:
                raise IndexNotFound(f"built {result.folder.name} but could not serve it")
        except Exception as exc:
            reason = str(exc) if isinstance(exc, RecommenderError) else repr(exc)
            log.exception("rebuild.failed", extra={"job": job.id})
            with self._lock:
                job.status = "failed"
                job.error = reason
                job.finished_at = datetime.now(UTC).isoformat()
            return
        with self._lock:
            job.status = "succeeded"
            job.folder = result.folder.name
            job.count = result.count
            job.reused = result.reused
            job.embedded = result.embedded
            job.seconds = round(result.seconds, 3)
            job.finished_at = datetime.now(UTC).isoformat()
        log.info("rebuild.done", extra={"job": job.id, "folder": result.folder.name})

    def status(self) -> dict[str, Any] | None:
        with self._lock:
            return None if self._job is None else self._job.as_dict()

    def wait(self, timeout: float | None = None) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
