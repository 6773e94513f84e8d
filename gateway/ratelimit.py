"""Per-sender flood limit in Redis: shared by every gateway process."""

from __future__ import annotations

import time

import redis.asyncio as aioredis

KEY = "support:rate:{key}:{window}"


class RateLimit:
    """At most `count` events per `window_s` seconds per key (fixed windows)."""

    def __init__(self, redis: aioredis.Redis, count: int, window_s: int):
        self.redis = redis
        self.count = count
        self.window_s = window_s

    async def allow(self, key: str) -> bool:
        window = int(time.time() // self.window_s)
        name = KEY.format(key=key, window=window)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.expire(name, self.window_s * 2)
            used, _ = await pipe.execute()
        return int(used) <= self.count
