"""Prometheus metrics for the HTTP API, served at /metrics."""

from __future__ import annotations

import time
from collections.abc import Iterator

from fastapi import FastAPI, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
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


class _ResultCache(Collector):
    """The service's result cache, read at scrape time (the cache counts, not the API)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        svc = getattr(self.app.state, "service", None)
        if svc is None:
            return
        stats = svc.cache_stats()
        for name, value, text in (
            ("hits", stats.hits, "lists answered from the result cache"),
            ("misses", stats.misses, "lists ranked because the cache had none"),
            ("invalidated", stats.invalidated, "cached lists dropped by article writes"),
            ("evicted", stats.evicted, "cached lists dropped for room (LRU)"),
        ):
            yield CounterMetricFamily(f"recommender_result_cache_{name}", text, value=value)
        yield GaugeMetricFamily(
            "recommender_result_cache_hit_ratio", "hits / lookups so far", value=stats.hit_ratio
        )
        yield GaugeMetricFamily(
            "recommender_result_cache_entries", "lists held now", value=stats.size
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
    registry.register(_ResultCache(app))

    app.add_middleware(_Measure, latency=latency, requests=requests)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
