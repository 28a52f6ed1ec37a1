"""Prometheus metrics for the HTTP API, served at /metrics: requests and latency per route
template, the process and platform, and gauges of the service (articles, index age, last build
duration, events per second)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from recommender.api.clients import has_write_token
from recommender.api.errors import ApiError

# the window of recommender_events_per_second: long enough to smooth page-view bursts, short
# enough that a dead event pipeline shows within a minute
RATE_WINDOW_SECONDS = 60.0


class EventRate:
    """Events received per second over the last RATE_WINDOW_SECONDS, in one-second buckets."""

    def __init__(self, window: float = RATE_WINDOW_SECONDS) -> None:
        self.window = window
        self._buckets: deque[list[int]] = deque()  # [second, count], oldest first
        self._lock = threading.Lock()

    def add(self, count: int, now: float | None = None) -> None:
        second = int(time.time() if now is None else now)
        with self._lock:
            if self._buckets and self._buckets[-1][0] == second:
                self._buckets[-1][1] += count
            else:
                self._buckets.append([second, count])
            self._expire(second)

    def per_second(self, now: float | None = None) -> float:
        second = int(time.time() if now is None else now)
        with self._lock:
            self._expire(second)
            return sum(count for _, count in self._buckets) / self.window

    def _expire(self, second: int) -> None:
        while self._buckets and self._buckets[0][0] <= second - self.window:
            self._buckets.popleft()


class ServiceGauges(Collector):
    """Read at scrape time from the service's health, so they are never stale."""

    def __init__(self, app: FastAPI, rate: EventRate) -> None:
        self.app = app
        self.rate = rate

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "recommender_events_per_second",
            f"events received per second over the last {RATE_WINDOW_SECONDS:g} s",
            value=self.rate.per_second(),
        )
        svc = getattr(self.app.state, "service", None)
        if svc is None or not svc.ready:
            return
        health: dict[str, Any] = svc.health()
        yield GaugeMetricFamily(
            "recommender_articles", "articles in the catalogue", value=health["articles"]
        )
        yield GaugeMetricFamily(
            "recommender_indexed_articles", "articles in the vector index", value=health["indexed"]
        )
        built_at = health.get("index_built_at")
        if built_at:
            age = time.time() - datetime.fromisoformat(built_at).timestamp()
            yield GaugeMetricFamily(
                "recommender_index_age_seconds", "age of the served index build", value=age
            )
        if health.get("index_build_seconds") is not None:
            yield GaugeMetricFamily(
                "recommender_last_build_seconds",
                "duration of the build that made the served index",
                value=health["index_build_seconds"],
            )


class RequestMetrics:
    """Latency and count per route template, observed by the access log's layer
    (api/access.py) as it logs the request: one plain ASGI layer times and labels each request
    for both, rather than two that each wrap its send. The labelled children are kept, as
    `labels()` takes a lock and builds its key on every call."""

    def __init__(self, latency: Histogram, requests: Counter) -> None:
        self.latency = latency
        self.requests = requests
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self.latency.labels(route),
                self.requests.labels(route, method, str(status)),
            )
            self._children[key] = children
        children[0].observe(seconds)
        children[1].inc()


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
    app.state.event_rate = EventRate()
    install_collectors(app, registry)
    registry.register(_ResultCache(app))

    # the access log's layer observes each request (see RequestMetrics), outside everything
    app.state.request_metrics = RequestMetrics(latency, requests)

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        if request.app.state.settings.metrics_require_token and not has_write_token(request):
            raise ApiError(401, "Unauthorized", "/metrics needs the bearer token")
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def install_collectors(app: FastAPI, registry: CollectorRegistry) -> None:
    """Process (CPU, memory, file descriptors), platform and GC metrics, as the default registry
    has them, and the service's gauges."""
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    registry.register(ServiceGauges(app, app.state.event_rate))


def count_events(app: FastAPI, count: int) -> None:
    app.state.event_rate.add(count)
