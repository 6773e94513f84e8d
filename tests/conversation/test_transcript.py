"""Transcripts on the real (session) Redis: what the conversation's hash counts as messages come."""

from __future__ import annotations

import json
from dataclasses import replace

import redis.asyncio as aioredis

from conversation.message import FileInfo
from conversation.transcript import Transcripts
from kit.keys import LOG, OUTBOX
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


def test_a_live_message_is_published_once_with_its_append(redis_server: RedisServer) -> None:
    """The router stores and publishes a message in one round trip (issue 20): the live feed gets
    exactly what the transcript holds, once, and a redelivered message is neither stored nor
    published again; `append_read` hands back the conversation as the append left it."""

    async def scenario(client: aioredis.Redis) -> tuple[list[dict], dict, object, int]:
        transcripts = Transcripts(client)
        cid = await transcripts.open(CHANNEL, "psid-live")
        feed = client.pubsub()
        await feed.subscribe(OUTBOX.format(cid=cid))
        await feed.get_message(timeout=1.0)                                   # the subscribe reply
        first = shopper(cid, "où en est ma commande ?", mid="live.1")
        assert await transcripts.append(first, live=True)
        assert not await transcripts.append(first, live=True)                # redelivered
        reply = replace(shopper(cid, "Elle est partie hier.", mid="live.2"), role="bot")
        conv = await transcripts.append_read(reply)
        again = await transcripts.append_read(reply)
        await transcripts.append(shopper(cid, "quiet", mid="live.3"))           # not live: not published
        published = []
        while (item := await feed.get_message(ignore_subscribe_messages=True, timeout=0.5)) is not None:
            published.append(json.loads(item["data"]))
        await feed.aclose()
        stored_count = await client.llen(LOG.format(cid=cid))
        return published, conv, again, stored_count

    published, conv, again, stored_count = on_redis(redis_server.url, scenario)
    assert [(p["type"], p["message"]["text"]) for p in published] == [
        ("message", "où en est ma commande ?"), ("message", "Elle est partie hier.")]
    assert published[1]["message"]["role"] == "bot"
    assert conv["channel"] == CHANNEL and conv["state"] == "bot" and float(conv["updated_at"]) > 0
    assert again is None and stored_count == 3


def test_done_pending_hands_over_the_next_message(redis_server: RedisServer) -> None:
    """The router's loop drops a routed message and reads the next in one round trip; the
    conversation leaves the pending set with its last message."""

    async def scenario(client: aioredis.Redis) -> tuple[list[str], bool, bool]:
        transcripts = Transcripts(client)
        cid = await transcripts.open(CHANNEL, "psid-queue")
        for i in range(3):
            await transcripts.append(shopper(cid, f"q{i}", mid=f"queue.{i}"), route=True)
        seen = []
        message = await transcripts.next_pending(cid)
        while message is not None:
            seen.append(message.text)
            if len(seen) == 2:
                listed_before_last = cid in await transcripts.with_pending()
            message = await transcripts.done_pending(cid)
        return seen, listed_before_last, cid in await transcripts.with_pending()

    assert on_redis(redis_server.url, scenario) == (["q0", "q1", "q2"], True, False)
