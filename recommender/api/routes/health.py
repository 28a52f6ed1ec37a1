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
    return health
