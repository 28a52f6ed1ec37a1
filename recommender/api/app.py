"""create_app(settings) builds the FastAPI app from its routers. Routes stay thin; the service
does the work. Reads are public and cheap; writes need the bearer token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from threadpoolctl import OpenBLASController, threadpool_limits

from recommender import __version__, logs
from recommender.api import contract, docs, errors, prometheus
from recommender.api.access import AccessLog
from recommender.api.clients import ClientKeys
from recommender.api.lists import ListShortcut
from recommender.api.middleware import BodyLimit, HeadAsGet
from recommender.api.routes import admin, health, pages, reads, stats, writes
from recommender.config import Settings
from recommender.service import RecommenderService
from recommender.service.shared import client_secret_sharer, open_rate_limiter


def create_app(settings: Settings, service: RecommenderService | None = None) -> FastAPI:
    """The API over a service; without one, the service is built and loaded at start-up."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        limit_blas_threads(settings.serve_blas_threads)
        owned = service is None
        svc = service or RecommenderService(settings)
        if not svc.ready:
            svc.start()
        app.state.service = svc
        svc.start_watching(settings.index_poll_seconds)
        yield
        svc.stop_watching()
        # here, not only in close(): uvicorn re-raises SIGTERM once its shutdown is done, so
        # code after uvicorn.run() may never run
        svc.save_state()
        if owned:
            svc.close()

    app = FastAPI(
        title="recommender",
        version=__version__,
        description="Related (Lees ook) and popular (Populair nieuws) articles for news sites.",
        lifespan=lifespan,
        # served by api/docs.py with local assets: FastAPI's defaults load them from a CDN
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.client_keys = ClientKeys(settings, client_secret_sharer(settings))
    app.state.rate_limiter = open_rate_limiter(settings)
    app.add_middleware(errors.JsonCORSMiddleware, **errors.cors_options(settings))
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(HeadAsGet)
    # the list routes' answers skip FastAPI's routing and parameter handling, and the three
    # layers above (HEAD, body limit, CORS), whose part in them the shortcut does itself: cheap
    # enough that clients looping them cannot hold up other requests (api/lists.py)
    app.add_middleware(ListShortcut, fastapi=app, settings=settings)
    prometheus.install(app)
    # outermost: the access log, the request metrics and the request id cover every answer,
    # 413 and CORS included
    app.add_middleware(AccessLog, observe=app.state.request_metrics.observe)
    errors.install(app)
    docs.install(app)
    routers = (reads.router, writes.router, health.router, admin.router, stats.router, pages.router)
    for router in routers:
        app.include_router(router)
    contract.install(app)
    return app


def limit_blas_threads(threads: int) -> None:
    """Cap numpy's BLAS thread pool for this process (0: leave it). Ranking multiplies small
    matrices per request; a pool of threads that spin between them costs far more than it
    gains on a busy machine (see Settings.serve_blas_threads)."""
    if threads > 0:
        # threadpoolctl lets only one live Python thread set OpenBLAS's process-wide pool, and
        # silently ignores the others: whichever thread touched it first (a test client's, a
        # job's) would void this setting. The serving process's start-up takes precedence
        OpenBLASController.clear_controlling_thread(force=True)
        threadpool_limits(limits=threads, user_api="blas")


def app_from_environment() -> FastAPI:
    """The app of one `recommender serve --workers N` process: settings from the environment,
    its own service started in the lifespan."""
    logs.configure("INFO")
    return create_app(Settings())
