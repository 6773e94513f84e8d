"""Redis pub/sub relayed to a WebSocket: the widget's conversation feed and the console's."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aioredis


@asynccontextmanager
async def relay(redis: aioredis.Redis, channel: str,
                deliver: Callable[[Any], Awaitable[None]]) -> AsyncIterator[None]:
    """While the block runs, every message published on `channel` is passed to `deliver`;
    the subscription and its task are always cleaned up, however the socket ends."""
    pubsub = redis.pubsub()
    await pubsub.subscribe(channel)

    async def forward() -> None:
        async for item in pubsub.listen():
            if item.get("type") == "message":
                await deliver(item["data"])

    task = asyncio.create_task(forward())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        with contextlib.suppress(Exception):
            await pubsub.unsubscribe()
            await pubsub.aclose()
