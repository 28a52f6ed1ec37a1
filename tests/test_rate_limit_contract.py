"""The same rate-limit contract over the in-process token bucket and the one in the real Redis;
the Redis one falls back to a local bucket, and says so, when Redis is down."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from recommender.limits import EventLimiter, RateLimiter
from recommender.redis_limits import RedisRateLimiter
from recommender.redis_state import connect
from tests.factories import make_settings, serving_client
from tests.servers import REDIS_URL

Make = Callable[[float, float], EventLimiter]


@pytest.fixture(params=["memory", "redis"])
def make(request: pytest.FixtureRequest) -> Iterator[Make]:
    if request.param == "memory":
        yield RateLimiter
        return
    prefix = request.getfixturevalue("redis_key_prefix")
    yield lambda per_minute, burst: RedisRateLimiter(connect(REDIS_URL), prefix, per_minute, burst)


def test_a_burst_passes_then_the_bucket_refills_at_the_rate(make: Make) -> None:
    limiter = make(60, 5)  # one event a second, five at once
    assert limiter.take("k", 5, now=100.0) == 0.0
    assert limiter.take("k", 2, now=100.0) == pytest.approx(2.0)
    assert limiter.take("k", 2, now=101.0) == pytest.approx(1.0)
    assert limiter.take("k", 2, now=102.0) == 0.0
    assert limiter.health_problem() is None


def test_clients_have_buckets_of_their_own(make: Make) -> None:
    limiter = make(60, 3)
    assert limiter.take("a", 3, now=0.0) == 0.0
    assert limiter.take("a", 1, now=0.0) > 0
    assert limiter.take("b", 3, now=0.0) == 0.0


def test_a_batch_larger_than_the_burst_waits_for_a_full_bucket(make: Make) -> None:
    limiter = make(120, 4)
    assert limiter.take("k", 1, now=0.0) == 0.0
    assert limiter.take("k", 50, now=0.0) == pytest.approx(0.5)  # capped at the burst
    assert limiter.take("k", 50, now=0.5) == 0.0


def test_two_replicas_share_one_bucket(redis_key_prefix: str) -> None:
    one, two = (RedisRateLimiter(connect(REDIS_URL), redis_key_prefix, 60, 4) for _ in "ab")
    taken = [(one if i % 2 else two).take("k", 1) == 0.0 for i in range(8)]
    assert taken.count(True) == 4  # not 8: the limit holds across replicas


def test_redis_buckets_expire_once_they_would_be_full(redis_key_prefix: str) -> None:
    limiter = RedisRateLimiter(connect(REDIS_URL), redis_key_prefix, 60, 10)
    limiter.take("k", 1)
    ttl = limiter.client.ttl(f"{{{redis_key_prefix}}}:rate:k")
    assert 0 < ttl <= 11


def test_redis_down_falls_back_to_a_local_bucket_and_says_so() -> None:
    limiter = RedisRateLimiter(connect("redis://127.0.0.1:1/0"), "down", 60, 2)
    assert limiter.take("k", 2, now=0.0) == 0.0
    assert limiter.take("k", 1, now=0.0) == pytest.approx(1.0)  # still limited, per process
    problem = limiter.health_problem()
    assert problem is not None and "redis unreachable" in problem


def test_the_api_limits_locally_and_reports_degraded_while_redis_is_down(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, events_per_minute_per_client=60, events_burst_per_client=2)
    for client in serving_client(settings):
        assert client.get("/health/ready").json()["status"] == "ready"
        client.app.state.rate_limiter = RedisRateLimiter(  # type: ignore[attr-defined]
            connect("redis://127.0.0.1:1/0"), "down", 60, 2
        )
        body = {"events": [{"type": "view", "article_id": "storm-1"}] * 2}
        assert client.post("/v1/events", json=body).status_code == 202
        refused = client.post("/v1/events", json=body)
        assert refused.status_code == 429 and refused.headers["retry-after"]
        ready = client.get("/health/ready").json()
        assert ready["status"] == "degraded"
        assert any("rate limits per process" in reason for reason in ready["reasons"])
