"""The help desk as the bot sees it: who is online, the handoff queue, tickets (Redis).

Minimal by design: the bot needs to know whether a human can take over now, to queue
a conversation for one, and to save a ticket durably before promising a reply. Agent
accounts, claiming and the agent-side ticket workflow build on these keys.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import redis.asyncio as aioredis

PRESENCE = "support:agents:presence"      # zset agent id -> last heartbeat (epoch s)
QUEUE = "support:handoff:queue"           # zset conversation id -> time queued
HANDOFF = "support:handoff:{cid}"         # hash: the request
TICKETS_OPEN = "support:tickets:open"     # zset ticket id -> created (oldest first)
TICKET = "support:ticket:{tid}"           # hash: the ticket
TICKET_SEQ = "support:tickets:seq"
TICKET_IDEMPOTENCY = "support:tickets:by-request:{key}"
PRESENCE_TTL_S = 90                       # an agent without heartbeat for this long is away


@dataclass(frozen=True)
class HandoffRequest:
    conversation_id: str
    lang: str
    reason: str
    summary: str
    trigger: str        # asked | escalation | complaint
    channel: str = "web"


@dataclass(frozen=True)
class Ticket:
    conversation_id: str
    email: str
    order_number: str
    message: str
    lang: str
    reason: str
    due: str            # ISO datetime promised to the shopper
    channel: str = "web"


class HelpDesk:
    def __init__(self, redis: aioredis.Redis):
        self.redis = redis

    async def agents_online(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        return int(await self.redis.zcount(PRESENCE, now - PRESENCE_TTL_S, "+inf"))

    async def heartbeat(self, agent_id: str, now: float | None = None) -> None:
        await self.redis.zadd(PRESENCE, {agent_id: time.time() if now is None else now})

    async def request_handoff(self, request: HandoffRequest) -> int:
        """Queue the conversation (once); returns its 1-based position in the queue."""
        key = HANDOFF.format(cid=request.conversation_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={**asdict(request), "queued_at": time.time()})
            pipe.zadd(QUEUE, {request.conversation_id: time.time()}, nx=True)
            pipe.zrank(QUEUE, request.conversation_id)
            *_, rank = await pipe.execute()
        return int(rank) + 1

    async def create_ticket(self, ticket: Ticket, request_key: str) -> str:
        """Save a ticket and return its id; the same `request_key` (a retried action) returns
        the first ticket instead of creating a second one."""
        idem = TICKET_IDEMPOTENCY.format(key=request_key)
        existing = await self.redis.get(idem)
        if existing:
            return existing.decode() if isinstance(existing, bytes) else str(existing)
        tid = f"T-{int(await self.redis.incr(TICKET_SEQ)):06d}"
        created = time.time()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(TICKET.format(tid=tid), mapping={**asdict(ticket), "id": tid, "status": "open",
                                                      "created_at": created})
            pipe.zadd(TICKETS_OPEN, {tid: created})
            pipe.set(idem, tid, ex=7 * 86400)
            await pipe.execute()
        return tid

    async def ticket(self, tid: str) -> dict | None:
        return _decoded(await self.redis.hgetall(TICKET.format(tid=tid)))

    async def handoff(self, cid: str) -> dict | None:
        return _decoded(await self.redis.hgetall(HANDOFF.format(cid=cid)))


def _decoded(raw: dict) -> dict | None:
    """A Redis hash as str -> str, whether the client decodes responses or not."""
    if not raw:
        return None
    return {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in raw.items()}
