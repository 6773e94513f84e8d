"""Helpers every test suite shares (the fakes of what lies outside the machine are in
tests/fakes/, real processes in tests/stack.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import redis.asyncio as aioredis

T = TypeVar("T")


def on_redis(redis_url: str, job: Callable[[aioredis.Redis], Awaitable[T]], *, flush: bool = False,
             decode: bool = False) -> T:
    """`job(conn)` on its own Redis connection and event loop (another process, as far as an
    app under test knows: a CLI, a second gateway), closed afterwards; `flush` empties the
    database first."""

    async def go() -> T:
        conn = aioredis.Redis.from_url(redis_url, decode_responses=decode)
        try:
            if flush:
                await conn.flushdb()
            return await job(conn)
        finally:
            await conn.aclose()

    return asyncio.run(go())


def run_async(coro: Awaitable[T]) -> T:
    """A coroutine on a fresh event loop."""
    return asyncio.run(coro)  # type: ignore[arg-type]



def wait_for(check: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    """Poll `check` until it returns something truthy (returned); AssertionError naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")
