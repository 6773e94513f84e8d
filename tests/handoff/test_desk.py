"""The help desk's Redis side: presence, the handoff queue, durable and idempotent tickets."""

from __future__ import annotations

import time

import redis

from handoff.desk import PRESENCE_TTL_S, TICKETS_OPEN, HandoffRequest, HelpDesk, Ticket
from ops.redis_server import RedisServer
from tests.helpers import run_async


async def _desk(server: RedisServer):
    import redis.asyncio as aioredis

    return HelpDesk(aioredis.Redis.from_url(server.url))


def ticket(email: str = "a@example.fr") -> Ticket:
    return Ticket(conversation_id="c1", email=email, order_number="-", message="Bonjour", lang="fr",
                  reason="delivery/tracking", due="2026-11-30T17:00:00+01:00")


def test_agents_count_as_online_only_while_their_heartbeat_is_fresh(
        redis_server: RedisServer, redis_client: redis.Redis) -> None:
    async def scenario() -> tuple[int, int, int]:
        desk = await _desk(redis_server)
        before = await desk.agents_online()
        await desk.heartbeat("agent-1")
        await desk.heartbeat("agent-2", now=time.time() - PRESENCE_TTL_S - 5)  # gone quiet
        later = time.time() + PRESENCE_TTL_S + 5
        return before, await desk.agents_online(), await desk.agents_online(now=later)

    assert run_async(scenario()) == (0, 1, 0)


def test_a_conversation_is_queued_once_oldest_first(redis_server: RedisServer,
                                                     redis_client: redis.Redis) -> None:
    async def scenario() -> list[int]:
        desk = await _desk(redis_server)
        positions = []
        for cid in ("first", "second", "first"):
            positions.append(await desk.request_handoff(HandoffRequest(
                conversation_id=cid, lang="fr", reason="", summary="colis", trigger="asked")))
        return positions

    assert run_async(scenario()) == [1, 2, 1]
    assert redis_client.hget("support:handoff:second", "summary") == "colis"


def test_tickets_are_saved_once_per_request(redis_server: RedisServer, redis_client: redis.Redis) -> None:
    async def scenario() -> tuple[str, str, str]:
        desk = await _desk(redis_server)
        a = await desk.create_ticket(ticket(), request_key="c1:m1")
        again = await desk.create_ticket(ticket(), request_key="c1:m1")  # a retried action
        other = await desk.create_ticket(ticket("b@example.fr"), request_key="c1:m2")
        return a, again, other

    a, again, other = run_async(scenario())
    assert a == again != other
    assert redis_client.zrange(TICKETS_OPEN, 0, -1) == [a, other]  # oldest first
    saved = redis_client.hgetall(f"support:ticket:{a}")
    assert saved["email"] == "a@example.fr" and saved["status"] == "open"
    assert saved["due"].startswith("2026-11-30")
