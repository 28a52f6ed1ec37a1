"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

router = APIRouter(tags=["health"])


@router.get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/health/ready")
async def ready(request: Request, response: Response) -> dict[str, Any]:
    svc = getattr(request.app.state, "service", None)
    if svc is None or not svc.ready:
        response.status_code = 503
        return {"status": "starting"}
    health: dict[str, Any] = svc.health()
    # the rate limiter lives with the API, not the service: its fallback is a reason too
    limiter = getattr(request.app.state, "rate_limiter", None)
    problem = limiter.health_problem() if limiter is not None else None
    if problem:
        health["status"] = "degraded"
        health["reasons"] = [*health["reasons"], problem]
    return health
