"""Admin routes: reload the index CURRENT names, rebuild it in the background, tune the
embedding model in the background. All need the bearer token, like every other write."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from recommender.api.deps import Auth, Service
from recommender.api.errors import ApiError


class ReloadOut(BaseModel):
    swapped: bool
    folder: str | None
    reason: str
    replayed: int
    seconds: float


class RebuildOut(BaseModel):
    id: str
    status: str
    started_at: str
    finished_at: str | None
    folder: str | None
    count: int | None
    reused: int | None
    embedded: int | None
    seconds: float | None
    error: str | None


router = APIRouter(tags=["admin"], dependencies=[Auth])


@router.post("/v1/admin/reload", response_model=ReloadOut)
async def reload(svc: Service) -> ReloadOut:
    """Swap in the index models/index/CURRENT points at, if it is not the one serving
    (a server also polls for it every `index_poll_seconds`). Loading happens in a worker
    thread; requests keep being answered from the old index until the switch."""
    result = await run_in_threadpool(svc.reload_if_changed, True)
    return ReloadOut(**vars(result))


@router.post("/v1/admin/rebuild", status_code=202, response_model=RebuildOut)
async def rebuild(svc: Service) -> Any:
    """Start a full rebuild in the background (202 with the job); the new index is swapped
    in when it is done. 409 while another build runs. A failed build changes nothing."""
    job = svc.start_rebuild()
    return JSONResponse(job.as_dict(), status_code=202)


@router.get("/v1/admin/rebuild", response_model=RebuildOut)
async def rebuild_status(svc: Service) -> Any:
    """The latest rebuild job started through the API (404 when there was none)."""
    return job_or_404(svc.rebuild_status(), "rebuild")


def job_or_404(status: dict[str, Any] | None, kind: str) -> dict[str, Any]:
    if status is None:
        raise ApiError(404, "NotFound", f"no {kind} has been started")
    return status


class TuneIn(BaseModel):
    """Options of a tuning run; absent ones come from the RECOMMENDER_TUNE_* settings."""

    model_config = ConfigDict(extra="forbid")

    epochs: int | None = Field(None, ge=1, le=100)
    batch_size: int | None = Field(None, ge=2, le=4096)
    max_pairs: int | None = Field(None, ge=1)
    max_minutes: float | None = Field(None, gt=0, le=24 * 60)
    seed: int | None = None
    lr: float | None = Field(None, gt=0, lt=1)
    max_tokens: int | None = Field(None, ge=16, le=512)
    device: str | None = Field(None, pattern=r"^(cpu|cuda(:[0-9]+)?)$")
    activate: bool = False


class TuneOut(BaseModel):
    id: str
    status: str
    started_at: str
    finished_at: str | None
    folder: str | None
    model_name: str | None
    validation_before: float | None
    validation_after: float | None
    pairs: int | None
    stopped: str | None
    activated: bool | None
    seconds: float | None
    error: str | None


@router.post("/v1/admin/tune", status_code=202, response_model=TuneOut)
async def tune(svc: Service, options: TuneIn | None = None) -> Any:
    """Tune the embedding model on the stored articles and co-reads in the background (202
    with the job); 409 while another tuning run works. The new model is served only once
    it is current (`activate`, and only if validation improved), the index is rebuilt and
    the server restarted with RECOMMENDER_MODEL_NAME=tuned:current."""
    chosen = (options or TuneIn()).model_dump()
    activate = chosen.pop("activate")
    job = svc.start_tune(activate=activate, **chosen)
    return JSONResponse(job.as_dict(), status_code=202)


@router.get("/v1/admin/tune", response_model=TuneOut)
async def tune_status(svc: Service) -> Any:
    """The latest tuning job started through the API (404 when there was none)."""
    return job_or_404(svc.tune_status(), "tuning run")
