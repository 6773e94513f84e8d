"""Transcripts on the real (session) Redis: what the conversation's hash counts as messages come."""

from __future__ import annotations

from dataclasses import replace

import redis.asyncio as aioredis

from conversation.message import FileInfo
from conversation.transcript import Transcripts
from ops.redis_server import RedisServer
from tests.helpers import on_redis

from .helpers import CHANNEL, shopper


def test_the_files_a_shopper_sent_are_counted_once_per_message(redis_server: RedisServer) -> None:
    """The console's queue shows "2 attachments" from this count: a redelivered message (same
    id) must not count its files twice, and a message without files counts nothing."""
    two = (FileInfo(id="f1", name="a.pdf", type="application/pdf", size=10),
           FileInfo(id="f2", name="b.png", type="image/png", size=20))

    async def scenario(client: aioredis.Redis) -> tuple[str | None, str | None]:
        transcripts = Transcripts(client)
        cid = await transcripts.open(CHANNEL, "psid-files")
        before = (await transcripts.require(cid)).get("files")
        await transcripts.append(shopper(cid, "hello", mid="m.1"))
        with_files = replace(shopper(cid, "", mid="m.2"), files=two)
        assert await transcripts.append(with_files)
        assert not await transcripts.append(with_files)              # redelivered: stored once
        await transcripts.append(replace(shopper(cid, "", mid="m.3"), files=two[:1]))
        return before, (await transcripts.require(cid)).get("files")

    assert on_redis(redis_server.url, scenario) == (None, "3")
