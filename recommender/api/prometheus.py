"""Prometheus metrics for the HTTP API, served at /metrics."""

from __future__ import annotations

import time

from fastapi import FastAPI, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class _Measure:
    """Latency and count per route template. Plain ASGI rather than @app.middleware("http"):
    that wrapper runs every request through an extra task and memory streams, which cost
    ~10% of a /related request's CPU (py-spy, BENCHMARKS.md)."""

    def __init__(self, app: ASGIApp, latency: Histogram, requests: Counter) -> None:
        self.app = app
        self.latency = latency
        self.requests = requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets when the app raises before answering

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            # the route template, not the raw path: article ids must not explode label
            # cardinality (the router sets scope["route"] on this same scope)
            name = getattr(scope.get("route"), "path", "unmatched")
            self.latency.labels(name).observe(time.perf_counter() - started)
            self.requests.labels(name, scope["method"], str(status)).inc()


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

    app.add_middleware(_Measure, latency=latency, requests=requests)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
