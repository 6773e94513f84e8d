"""Redis pub/sub relayed to WebSockets: the widget's conversation feed and the console's.

One gateway process holds thousands of sockets; giving each its own Redis subscription would
need as many Redis connections (the pool runs out, Redis' maxclients too). A FeedHub keeps ONE
pub/sub connection per process: channels are subscribed while at least one local socket
listens, and one reader task fans each message out to that channel's local listeners. If the
connection breaks (Redis restart), the reader reconnects and subscribes again.

A subscription counts once Redis confirms it: after a Redis restart the idle connection is dead,
a SUBSCRIBE written to it is lost, and a reply published in the next milliseconds (the bot
answers a form question in ~20 ms) would never reach the socket. `subscribe` waits for the
confirmation (the reader reconnects meanwhile) and resets the connection when none comes. A
channel confirmed again later was re-subscribed after a break: messages published in the gap
are lost to pub/sub, so its listeners' `on_gap` runs (the widget then catches up from the
transcript).
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
Gap = Callable[[], Awaitable[None]]
# Redis confirms a SUBSCRIBE in well under a millisecond on a live connection; the reader may be
# busy with one stalled socket for up to DELIVERY_S first
DELIVERY_S = 5.0
CONFIRM_S = DELIVERY_S + 1.0


class FeedHub:
    def __init__(self, redis: aioredis.Redis):
        self.redis = redis
        self._listeners: dict[str, set[Deliver]] = {}
        self._gaps: dict[Deliver, Gap] = {}
        self._confirmed: dict[str, asyncio.Event] = {}
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def _ensure_reader(self) -> None:
        if self._pubsub is None:
            self._pubsub = self.redis.pubsub()
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read())

    async def subscribe(self, channel: str, deliver: Deliver, on_gap: Gap | None = None) -> None:
        """Returns once Redis delivers `channel` to this process (see the module's docstring)."""
        async with self._lock:
            await self._ensure_reader()
            listeners = self._listeners.setdefault(channel, set())
            fresh = not listeners
            listeners.add(deliver)
            if on_gap is not None:
                self._gaps[deliver] = on_gap
            if fresh:
                confirmed = self._confirmed[channel] = asyncio.Event()
                try:
                    await self._pubsub.subscribe(channel)
                except Exception:   # a connection broken by a Redis restart: a fresh one, once
                    await self._reset()
            else:   # another local socket on this channel (a second tab): same confirmation
                confirmed = self._confirmed.setdefault(channel, asyncio.Event())
        if not await _within(confirmed, CONFIRM_S) and fresh:
            log.warning("feed subscription not confirmed; new connection", extra={"channel": channel})
            async with self._lock:
                await self._reset()
            await _within(confirmed, CONFIRM_S)

    async def unsubscribe(self, channel: str, deliver: Deliver) -> None:
        async with self._lock:
            listeners = self._listeners.get(channel)
            if not listeners:
                return
            listeners.discard(deliver)
            self._gaps.pop(deliver, None)
            if not listeners:
                del self._listeners[channel]
                self._confirmed.pop(channel, None)
                with contextlib.suppress(Exception):
                    await self._pubsub.unsubscribe(channel)

    async def _read(self) -> None:
        while True:
            try:
                if not self._listeners:
                    await asyncio.sleep(0.05)
                    continue
                item = await self._pubsub.get_message(timeout=1.0)
                if item is not None and item.get("type") == "subscribe":
                    await self._subscribed(text(item["channel"]))
                if item is None or item.get("type") != "message":
                    continue
                for deliver in list(self._listeners.get(text(item["channel"]), ())):
                    try:   # a stalled socket gets 5 s, not the power to stall every feed
                        await asyncio.wait_for(deliver(item["data"]), DELIVERY_S)
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

    async def _subscribed(self, channel: str) -> None:
        """Redis confirmed `channel`: a first confirmation releases `subscribe`, a later one
        follows a reconnection, and the listeners may have missed messages meanwhile."""
        confirmed = self._confirmed.get(channel)
        if confirmed is None:
            return
        if not confirmed.is_set():
            confirmed.set()
            return
        for deliver in list(self._listeners.get(channel, ())):
            gap = self._gaps.get(deliver)
            if gap is not None:
                try:
                    await asyncio.wait_for(gap(), DELIVERY_S)
                except Exception:
                    log.debug("feed gap notice failed", exc_info=True)

    async def _reset(self) -> None:
        """A new pub/sub connection subscribed to every channel with local listeners."""
        with contextlib.suppress(Exception):
            await self._pubsub.aclose()
        self._pubsub = self.redis.pubsub()
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


async def _within(event: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(event.wait(), seconds)
    except TimeoutError:
        return False
    return True


@asynccontextmanager
async def relay(hub: FeedHub, channel: str, deliver: Deliver,
                on_gap: Gap | None = None) -> AsyncIterator[None]:
    """While the block runs, every message published on `channel` is passed to `deliver`
    (`on_gap` after a reconnection that may have lost some); the listener is always removed,
    however the socket ends."""
    await hub.subscribe(channel, deliver, on_gap)
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            await hub.unsubscribe(channel, deliver)
