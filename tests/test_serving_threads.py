"""A serving process caps numpy's BLAS thread pool (SERVE_BLAS_THREADS): the ranking's products
are tiny, and a spinning second thread made them wait on a busy machine. The app starts on this
thread here, as uvicorn starts it on its main thread (threadpoolctl lets one live thread at a
time set OpenBLAS's process-wide pool)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
from threadpoolctl import OpenBLASController, threadpool_info, threadpool_limits

from recommender.api import create_app
from tests.factories import make_settings


def blas_threads() -> set[int]:
    """Threads of numpy's own BLAS (faiss loads another one, which follows its OpenMP
    setting and which the ranking's numpy products do not use)."""
    home = str(Path(np.__file__).parent.parent)
    pools = [p for p in threadpool_info() if p["user_api"] == "blas"]
    return {int(p["num_threads"]) for p in pools if str(p["filepath"]).startswith(home + "/numpy")}


def threads_while_serving(tmp_path: Path, setting: int) -> set[int]:
    app = create_app(make_settings(tmp_path, serve_blas_threads=setting))

    async def started() -> set[int]:
        async with app.router.lifespan_context(app):
            return blas_threads()

    return asyncio.run(started())


def test_the_app_caps_blas_threads_when_it_starts(tmp_path: Path) -> None:
    OpenBLASController.clear_controlling_thread(force=True)  # earlier tests' threads
    limits = threadpool_limits(limits=2, user_api="blas")
    try:
        assert blas_threads() == {2}
        assert threads_while_serving(tmp_path, 1) == {1}
    finally:
        limits.restore_original_limits()


def test_zero_leaves_the_pool_alone(tmp_path: Path) -> None:
    OpenBLASController.clear_controlling_thread(force=True)
    limits = threadpool_limits(limits=2, user_api="blas")
    try:
        assert threads_while_serving(tmp_path, 0) == {2}
    finally:
        limits.restore_original_limits()
