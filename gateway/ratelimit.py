"""Flood limits in Redis, shared by every gateway process.

A conversation costs nothing to open, so a budget per conversation alone stops nobody: the
web channel also counts per client address (messages, new conversations, tickets). Budgets
are keyed by a keyed digest of the address, never the address itself (no IP in Redis), and an
IPv6 client counts by its /64, which one machine usually holds whole.
"""

from __future__ import annotations

import ipaddress
import math
import time
from typing import Any

import redis.asyncio as aioredis

from kit.keys import RATE
from kit.pii import analytics_secret, pseudonymize

CLIENT_PREFIX = "ip_"


class RateLimit:
    """At most `count` events per `window_s` seconds per key (fixed windows)."""

    def __init__(self, redis: aioredis.Redis, count: int, window_s: int):
        self.redis = redis
        self.count = count
        self.window_s = window_s

    async def allow(self, key: str) -> bool:
        return await self.hit(key) == 0

    async def hit(self, key: str) -> int:
        """Counts one event for `key`: 0 while within budget, else the seconds until the window
        ends (the Retry-After). Refused attempts count too, so hammering does not pay."""
        return await hit_all(self.redis, [(self, key)])

    def _count(self, pipe: Any, key: str, now: float) -> int:
        window = int(now // self.window_s)
        name = RATE.format(key=key, window=window)
        pipe.incr(name)
        pipe.expire(name, self.window_s * 2)
        return window

    def _wait(self, used: int, window: int, now: float) -> int:
        if used <= self.count:
            return 0
        return max(1, math.ceil((window + 1) * self.window_s - now))


async def hit_all(redis: aioredis.Redis, budgets: list[tuple[RateLimit, str]]) -> int:
    """One event counted against each (budget, key) in one round trip: 0 while all are within
    budget, else the first refusal's wait in the order given."""
    now = time.time()
    async with redis.pipeline(transaction=True) as pipe:
        windows = [limit._count(pipe, key, now) for limit, key in budgets]
        replies = await pipe.execute()
    for (limit, _), window, used in zip(budgets, windows, replies[::2], strict=True):
        if wait := limit._wait(int(used), window, now):
            return wait
    return 0


def client_key(address: str | None, secret: bytes) -> str:
    """The budget key of a client address: an HMAC of it (of its /64 for IPv6)."""
    host = address or "unknown"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if isinstance(ip, ipaddress.IPv6Address):
        host = str(ip.ipv4_mapped or ipaddress.ip_network(f"{ip}/64", strict=False))
    return pseudonymize(host, secret, prefix=CLIENT_PREFIX)


class ChatLimits:
    """The web channel's budgets (gateway.settings: CHAT_RATE_LIMIT, CHAT_ADDRESS_RATE_LIMIT,
    CONVERSATION_RATE_LIMIT, TICKET_RATE_LIMIT, TICKET_ADDRESS_RATE_LIMIT). Each check counts
    one attempt and returns 0 (go on) or the seconds to wait."""

    def __init__(self, redis: aioredis.Redis, settings: Any, *, secret: bytes | str | None = None):
        if secret is None:
            secret = analytics_secret()
        self.secret = secret.encode() if isinstance(secret, str) else secret
        self.per_conversation = RateLimit(redis, *settings.chat_rate)
        self.per_address = RateLimit(redis, *settings.chat_address_rate)
        self.conversations = RateLimit(redis, *settings.conversation_rate)
        self.tickets = RateLimit(redis, *settings.ticket_rate)
        self.address_tickets = RateLimit(redis, *settings.ticket_address_rate)

    def client(self, address: str | None) -> str:
        return client_key(address, self.secret)

    async def message(self, sender: str, client: str) -> int:
        """Both budgets counted in one round trip (each shopper message pays it)."""
        return await hit_all(self.per_conversation.redis, [(self.per_conversation, f"web:{sender}"),
                                                           (self.per_address, f"msg-client:{client}")])

    async def new_conversation(self, client: str) -> int:
        return await self.conversations.hit(f"conv-client:{client}")

    async def ticket(self, conversation_id: str, client: str) -> int:
        return (await self.tickets.hit(f"ticket-conv:{conversation_id}")
                or await self.address_tickets.hit(f"ticket-client:{client}"))
