"""The change feed shared by replicas: a Redis stream of store change numbers."""

from __future__ import annotations

from typing import Any

import redis

from recommender.redis_support import guarded


class RedisFeed:
    """The change feed: a stream of store change numbers. A replica that writes articles adds
    one entry; every replica follows the stream and catches up with the store on each entry
    (the vectors travel through the store's shared embedding cache, so nobody re-embeds)."""

    def __init__(self, client: redis.Redis, prefix: str, origin: str) -> None:
        self.client = client
        self.key = f"{{{prefix}}}:feed"
        self.origin = origin

    def publish(self, seq: int) -> None:
        with guarded():
            # capped: a follower that falls further behind catches up from the store anyway
            self.client.xadd(self.key, {"seq": seq, "origin": self.origin}, maxlen=10_000)

    def latest(self) -> str:
        with guarded():
            rows = self.client.xrevrange(self.key, count=1)
        return str(rows[0][0]) if rows else "0-0"

    def wait(self, after: str, timeout: float) -> tuple[str, int]:
        """Block up to timeout for entries after `after`: (the last entry id, how many)."""
        with guarded():
            answer: Any = self.client.xread(
                {self.key: after}, count=1_000, block=int(timeout * 1000)
            )
        if not answer:
            return after, 0
        entries = answer[0][1]
        return str(entries[-1][0]), len(entries)
