"""Prometheus metrics for the HTTP API, served at /metrics."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)


def install(app: FastAPI) -> None:
    # one registry per app, so several apps (tests) never clash over metric names
    registry = CollectorRegistry()
    requests = Counter(
        "recommender_requests_total",
        "HTTP requests",
        ["route", "method", "status"],
        registry=registry,
    )
    latency = Histogram(
        "recommender_request_seconds",
        "HTTP request latency",
        ["route"],
        buckets=(0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0),
        registry=registry,
    )
    fallbacks = Counter(
        "recommender_fallback_total",
        "related lists answered with popular stories",
        registry=registry,
    )
    app.state.fallback_counter = fallbacks

    @app.middleware("http")
    async def measure(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        # the route template, not the raw path: article ids must not explode label cardinality
        name = getattr(route, "path", "unmatched")
        latency.labels(name).observe(time.perf_counter() - started)
        requests.labels(name, request.method, str(response.status_code)).inc()
        return response

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
