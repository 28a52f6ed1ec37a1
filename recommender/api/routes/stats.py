"""Online evaluation over HTTP: click-through per block, position, variant, section and day,
with the A/B verdict (token), and the editors' dashboard (token or basic auth)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse

from recommender.api.dashboard import render_dashboard
from recommender.api.deps import Auth, Service, require_token_or_basic

router = APIRouter(tags=["stats"])

Days = Annotated[float, Query(gt=0, le=366, description="look back this many days")]


@router.get("/v1/stats/ctr", dependencies=[Auth])
def ctr(svc: Service, days: Days = 14.0) -> dict[str, Any]:
    """Click-through per block (Lees ook = related, Populair = popular), per position, variant,
    section and day, and each block's A/B verdict under the rule fixed in the settings."""
    return svc.ctr_stats(days)


@router.get(
    "/dashboard",
    response_class=HTMLResponse,
    dependencies=[Depends(require_token_or_basic)],
    include_in_schema=False,
)
def dashboard(svc: Service, days: Days = 14.0) -> HTMLResponse:
    return HTMLResponse(render_dashboard(svc.ctr_stats(days), svc.overview(), svc.health()))
