"""Claiming is atomic: two agents (two threads, two event loops, two Redis connections, as two
gateway processes would be) asking for the same conversation at the same instant: one wins."""

from __future__ import annotations

import asyncio
import threading

import redis.asyncio as aioredis

from handoff.desk import DeskError, HandoffRequest, HelpDesk
from ops.redis_server import RedisServer


def test_exactly_one_agent_wins_each_race(redis_server: RedisServer) -> None:
    rounds = 40
    barrier = threading.Barrier(2)
    wins: dict[str, list[str]] = {"ana": [], "bob": []}
    losses: dict[str, int] = {"ana": 0, "bob": 0}

    async def setup() -> None:
        client = aioredis.Redis.from_url(redis_server.url)
        desk = HelpDesk(client)
        for i in range(rounds):
            await desk.request_handoff(HandoffRequest(f"race-{i}", "fr", "", "", "asked"))
        await client.aclose()

    async def agent(name: str) -> None:
        client = aioredis.Redis.from_url(redis_server.url)
        desk = HelpDesk(client)
        for i in range(rounds):
            await asyncio.to_thread(barrier.wait)
            try:
                got = await desk.claim(name, max_conversations=1000, cid=f"race-{i}")
                wins[name].append(got or "")
            except DeskError as exc:
                assert exc.code == "conflict"
                losses[name] += 1
        await client.aclose()

    redis_server.client().delete("support:handoff:queue")
    asyncio.run(setup())
    threads = [threading.Thread(target=asyncio.run, args=(agent(n),)) for n in ("ana", "bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    won = wins["ana"] + wins["bob"]
    assert sorted(won) == sorted(f"race-{i}" for i in range(rounds))   # every one claimed once
    assert losses["ana"] + losses["bob"] == rounds                      # and refused once


def test_oldest_first_and_capacity(redis_server: RedisServer) -> None:
    async def scenario() -> None:
        client = aioredis.Redis.from_url(redis_server.url)
        await client.delete("support:handoff:queue", "support:agent:cap@x:active")
        desk = HelpDesk(client)
        for cid in ("old", "mid", "new"):
            await desk.request_handoff(HandoffRequest(cid, "fr", "", "", "asked"))
            await asyncio.sleep(0.01)
        assert await desk.claim("cap@x", max_conversations=2) == "old"
        assert await desk.claim("cap@x", max_conversations=2) == "mid"
        try:
            await desk.claim("cap@x", max_conversations=2)
            raise AssertionError("a full agent got a third conversation")
        except DeskError as exc:
            assert exc.code == "full"
        assert [q["conversation_id"] for q in await desk.queue()] == ["new"]
        await desk.transfer("mid", "cap@x", None)                     # back to the queue, old place
        assert [q["conversation_id"] for q in await desk.queue()] == ["mid", "new"]
        await client.aclose()

    asyncio.run(scenario())
