"""Redis pub/sub relayed to WebSockets: the widget's conversation feed and the console's.

One gateway process holds thousands of sockets; giving each its own Redis subscription would
need as many Redis connections (the pool runs out, Redis' maxclients too). A FeedHub keeps ONE
pub/sub connection per process: channels are subscribed while at least one local socket
listens, and one reader task fans each message out to that channel's local listeners. If the
connection breaks (Redis restart), the reader reconnects and subscribes again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aioredis

from kit.redis import text

log = logging.getLogger("gateway.feeds")
Deliver = Callable[[Any], Awaitable[None]]


class FeedHub:
    def __init__(self, redis: aioredis.Redis):
        self.redis = redis
        self._listeners: dict[str, set[Deliver]] = {}
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def _ensure_reader(self) -> None:
        if self._pubsub is None:
            self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read())

    async def subscribe(self, channel: str, deliver: Deliver) -> None:
        async with self._lock:
            await self._ensure_reader()
            listeners = self._listeners.setdefault(channel, set())
            if not listeners:
                try:
                    await self._pubsub.subscribe(channel)
                except Exception:   # a connection broken by a Redis restart: a fresh one, once
                    await self._reset()
                    await self._pubsub.subscribe(channel)
            listeners.add(deliver)

    async def unsubscribe(self, channel: str, deliver: Deliver) -> None:
        async with self._lock:
            listeners = self._listeners.get(channel)
            if not listeners:
                return
            listeners.discard(deliver)
            if not listeners:
                del self._listeners[channel]
                with contextlib.suppress(Exception):
                    await self._pubsub.unsubscribe(channel)

    async def _read(self) -> None:
        while True:
            try:
                if not self._listeners:
                    await asyncio.sleep(0.05)
                    continue
                item = await self._pubsub.get_message(timeout=1.0)
                if item is None or item.get("type") != "message":
                    continue
                for deliver in list(self._listeners.get(text(item["channel"]), ())):
                    try:   # a stalled socket gets 5 s, not the power to stall every feed
                        await asyncio.wait_for(deliver(item["data"]), 5.0)
                    except Exception:  # one closed socket must not stop the others' feeds
                        log.debug("feed delivery failed", exc_info=True)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the connection broke: start a new one, subscribe again
                log.warning("feed connection lost; resubscribing",
                            extra={"error": str(exc) or type(exc).__name__})
                await asyncio.sleep(0.5)
                async with self._lock:
                    with contextlib.suppress(Exception):
                        await self._reset()

    async def _reset(self) -> None:
        """A new pub/sub connection subscribed to every channel with local listeners."""
        with contextlib.suppress(Exception):
            await self._pubsub.aclose()
        self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        if self._listeners:
            await self._pubsub.subscribe(*self._listeners)

    async def aclose(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()


@asynccontextmanager
async def relay(hub: FeedHub, channel: str, deliver: Deliver) -> AsyncIterator[None]:
    """While the block runs, every message published on `channel` is passed to `deliver`;
    the listener is always removed, however the socket ends."""
    await hub.subscribe(channel, deliver)
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            await hub.unsubscribe(channel, deliver)
