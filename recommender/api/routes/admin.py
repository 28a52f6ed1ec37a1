"""Admin routes for the index lifecycle: reload the index CURRENT names, or rebuild it in the
background. Both need the bearer token, like every other write."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel

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
    status = svc.rebuild_status()
    if status is None:
        raise ApiError(404, "NotFound", "no rebuild has been started")
    return status
