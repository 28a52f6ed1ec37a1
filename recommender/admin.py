"""Admin routes for the index lifecycle: reload the index CURRENT names, or rebuild it in the
background. Both need the bearer token, like every other write."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.params import Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from recommender.config import Settings
from recommender.service import RecommenderService


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


def install(app: FastAPI, settings: Settings, auth: Depends) -> None:
    """Add /v1/admin/reload and /v1/admin/rebuild to app; auth is the write-token dependency."""

    def service(request: Request) -> RecommenderService:
        svc: RecommenderService = request.app.state.service
        return svc

    @app.post("/v1/admin/reload", response_model=ReloadOut, dependencies=[auth], tags=["admin"])
    async def reload(request: Request) -> ReloadOut:
        """Swap in the index models/index/CURRENT points at, if it is not the one serving
        (a server also polls for it every `index_poll_seconds`). Loading happens in a worker
        thread; requests keep being answered from the old index until the switch."""
        result = await run_in_threadpool(service(request).reload_if_changed, True)
        return ReloadOut(**vars(result))

    @app.post(
        "/v1/admin/rebuild",
        status_code=202,
        response_model=RebuildOut,
        dependencies=[auth],
        tags=["admin"],
    )
    async def rebuild(request: Request) -> Any:
        """Start a full rebuild in the background (202 with the job); the new index is swapped
        in when it is done. 409 while another build runs. A failed build changes nothing."""
        job = service(request).start_rebuild()
        return JSONResponse(job.as_dict(), status_code=202)

    @app.get("/v1/admin/rebuild", response_model=RebuildOut, dependencies=[auth], tags=["admin"])
    async def rebuild_status(request: Request) -> Any:
        """The latest rebuild job started through the API (404 when there was none)."""
        status = service(request).rebuild_status()
        if status is None:
            return JSONResponse(
                {"error": "NotFound", "message": "no rebuild has been started"}, status_code=404
            )
        return status
