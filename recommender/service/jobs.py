"""Background jobs started through the admin API (rebuilds, tuning runs): one of a kind at a
time, in a thread, with a status to poll. The work itself is injected, so tests can give a
failing or a slow one."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from recommender.build import BuildResult
from recommender.errors import BuildInProgress, IndexNotFound, RecommenderError, TuneInProgress
from recommender.service.lifecycle import ReloadResult

log = logging.getLogger(__name__)

REBUILD_FIELDS = ("folder", "count", "reused", "embedded", "seconds")
TUNE_FIELDS = ("folder", "model_name", "validation_before", "validation_after", "pairs",
               "stopped", "activated", "seconds")  # fmt: skip


@dataclass
class Job:
    """A job started through the admin API; read its fields under the jobs' lock."""

    id: str
    fields: tuple[str, ...]
    status: Literal["running", "succeeded", "failed"] = "running"
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    finished_at: str | None = None
    error: str | None = None
    result: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        head = {k: getattr(self, k) for k in ("id", "status", "started_at", "finished_at")}
        return head | {k: self.result.get(k) for k in self.fields} | {"error": self.error}


# kept for callers of the rebuild job's old name
RebuildJob = Job


class BackgroundJobs:
    def __init__(self, kind: str, fields: tuple[str, ...]) -> None:
        self.kind = kind
        self.fields = fields
        self._lock = threading.Lock()
        self._job: Job | None = None
        self._thread: threading.Thread | None = None

    def start_work(self, work: Callable[[], dict[str, Any]]) -> Job:
        """Run work in a background thread; its result fills the job. Raises BuildInProgress
        (409) while a job of this kind runs."""
        with self._lock:
            if self._job is not None and self._job.status == "running":
                error = TuneInProgress if self.kind == "tune" else BuildInProgress
                raise error(f"{self.kind} {self._job.id} is still running")
            job = Job(id=uuid.uuid4().hex[:12], fields=self.fields)
            self._job = job
            self._thread = threading.Thread(
                target=self._run, args=(job, work), name=f"{self.kind}-{job.id}", daemon=True
            )
            self._thread.start()
        log.info(f"{self.kind}.started", extra={"job": job.id})
        return job

    def _run(self, job: Job, work: Callable[[], dict[str, Any]]) -> None:
        try:
            result = work()
        except Exception as exc:
            reason = str(exc) if isinstance(exc, RecommenderError) else repr(exc)
            log.exception(f"{self.kind}.failed", extra={"job": job.id})
            with self._lock:
                job.status = "failed"
                job.error = reason
                job.finished_at = datetime.now(UTC).isoformat()
            return
        with self._lock:
            job.status = "succeeded"
            job.result = result
            job.finished_at = datetime.now(UTC).isoformat()
        log.info(f"{self.kind}.done", extra={"job": job.id, "folder": result.get("folder")})

    def status(self) -> dict[str, Any] | None:
        with self._lock:
            return None if self._job is None else self._job.as_dict()

    def wait(self, timeout: float | None = None) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)


class RebuildJobs(BackgroundJobs):
    """Full rebuilds, swapped in when done; a failed build leaves the serving index as it was."""

    def __init__(
        self, build: Callable[[], BuildResult], reload: Callable[[bool], ReloadResult]
    ) -> None:
        super().__init__("rebuild", REBUILD_FIELDS)
        self._build = build
        self._reload = reload

    def start(self) -> Job:
        return self.start_work(self._rebuild)

    def _rebuild(self) -> dict[str, Any]:
        result = self._build()
        reload = self._reload(True)
        if not reload.swapped and reload.folder != result.folder.name:
            raise IndexNotFound(f"built {result.folder.name} but could not serve it")
        return {
            "folder": result.folder.name,
            "count": result.count,
            "reused": result.reused,
            "embedded": result.embedded,
            "seconds": round(result.seconds, 3),
        }
