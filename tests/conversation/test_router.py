"""ConversationRouter + Transcripts + HelpDesk on the real (session) Redis, with a fake bot and
a recording sender: dedupe, ordering under concurrency (one and two router processes), agent
states, CSAT surveys, refused deliveries, a failing bot and closing a conversation."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import redis
import redis.asyncio as aioredis

from analytics.events import EventKind
from analytics.log import EventLog
from analytics.recorder import Recorder
from conversation.message import Message
from conversation.ports import DeliveryRefused
from conversation.router import ConversationRouter
from conversation.transcript import Transcripts
from handoff.desk import HandoffRequest, HelpDesk
from kit.pii import pseudonymize
from ops.redis_server import RedisServer
from tests.fakes.bots import EchoBot, RecordingSender
from tests.helpers import on_redis

from .helpers import CHANNEL, roles_texts, shopper

Scenario = Callable[[aioredis.Redis], Awaitable[Any]]


def make_router(client: aioredis.Redis, bot: EchoBot, sender: RecordingSender | None = None
                ) -> ConversationRouter:
    return ConversationRouter(client, Transcripts(client), HelpDesk(client), bot,
                              {CHANNEL: sender or RecordingSender()})






def test_a_message_submitted_twice_is_stored_and_answered_once(redis_server: RedisServer,
                                                               redis_client: redis.Redis) -> None:
    bot = EchoBot()

    async def scenario(client: aioredis.Redis) -> tuple[bool, bool, list[Message]]:
        router = make_router(client, bot)
        cid = await router.transcripts.open(CHANNEL, "psid-1")
        first = await router.submit(shopper(cid, "where is my parcel?", mid="m.1"))
        again = await router.submit(shopper(cid, "where is my parcel?", mid="m.1"))  # redelivered
        await router.idle()
        return first, again, await router.transcripts.history(cid)

    first, again, history = on_redis(redis_server.url, scenario)
    assert (first, again) == (True, False)
    assert roles_texts(history) == [("shopper", "where is my parcel?"), ("bot", "echo: where is my parcel?")]
    assert bot.seen == ["where is my parcel?"]


def _assert_answered_in_order(history: list[Message]) -> None:
    """Every shopper message stored once, then answered once, in the order they were stored.

    Shopper messages are stored when received (before any answer), so with messages sent at
    once the log is not strictly alternating: answers are what must follow the stored order."""
    questions = [m.text for m in history if m.role == "shopper"]
    answers = [m.text for m in history if m.role == "bot"]
    assert answers == [f"echo: {t}" for t in questions]
    position = {(m.role, m.text): i for i, m in enumerate(history)}
    assert all(position[("shopper", t)] < position[("bot", f"echo: {t}")] for t in questions)


def test_concurrent_messages_are_answered_in_submit_order(redis_server: RedisServer,
                                                          redis_client: redis.Redis) -> None:
    bot = EchoBot()
    sender = RecordingSender()
    texts = [f"question {i}" for i in range(20)]

    async def scenario(client: aioredis.Redis) -> list[Message]:
        router = make_router(client, bot, sender)
        cid = await router.transcripts.open(CHANNEL, "psid-1")
        # gather starts the coroutines in list order; each stores before its first await returns
        assert all(await asyncio.gather(*(router.submit(shopper(cid, t, mid=f"m{i}"))
                                          for i, t in enumerate(texts))))
        await router.idle()
        return await router.transcripts.history(cid)

    history = on_redis(redis_server.url, scenario)
    shopper_order = [m.text for m in history if m.role == "shopper"]
    assert sorted(shopper_order) == sorted(texts)
    _assert_answered_in_order(history)
    assert bot.seen == shopper_order
    assert bot.max_in_flight == 1
    assert [m.text for m, _ in sender.delivered] == [f"echo: {t}" for t in shopper_order]
    assert all(last is not None for _, last in sender.delivered)  # the shopper's last inbound time


def test_two_routers_on_two_connections_share_a_conversation_in_order(redis_server: RedisServer,
                                                                      redis_client: redis.Redis) -> None:
    bot = EchoBot(delay=0.01)  # one bot shared by the two "processes" to see overlapping turns
    texts = [f"message {i}" for i in range(12)]

    async def scenario(client: aioredis.Redis) -> list[Message]:
        other = aioredis.Redis.from_url(redis_server.url)
        try:
            a, b = make_router(client, bot), make_router(other, bot)
            cid = await a.transcripts.open(CHANNEL, "psid-1")
            await asyncio.gather(*((a if i % 2 else b).submit(shopper(cid, t, mid=f"m{i}"))
                                   for i, t in enumerate(texts)))
            await asyncio.gather(a.idle(), b.idle())
            return await a.transcripts.history(cid)
        finally:
            await other.aclose()

    history = on_redis(redis_server.url, scenario)
    shopper_order = [m.text for m in history if m.role == "shopper"]
    assert sorted(shopper_order) == sorted(texts)
    _assert_answered_in_order(history)
    assert bot.max_in_flight == 1
    assert redis_client.llen(f"support:conv:{history[0].conversation_id}:pending") == 0


def test_a_conversation_waiting_for_or_held_by_an_agent_does_not_reach_the_bot(
        redis_server: RedisServer, redis_client: redis.Redis) -> None:
    bot = EchoBot()

    async def scenario(client: aioredis.Redis) -> dict[str, list[Message]]:
        router = make_router(client, bot)
        out = {}
        for state in ("queued", "agent"):
            cid = await router.transcripts.open(CHANNEL, f"psid-{state}")
            await router.desk.request_handoff(HandoffRequest(
                conversation_id=cid, lang="en", reason="", summary="", trigger="asked", channel=CHANNEL))
            if state == "agent":
                assert await router.desk.claim("marie@shop.example", 3, cid) == cid
            await router.submit(shopper(cid, f"hello from {state}", sender=f"psid-{state}"))
            await router.idle()
            out[state] = await router.transcripts.history(cid)
        return out

    out = on_redis(redis_server.url, scenario)
    assert bot.seen == []
    for state, history in out.items():
        assert roles_texts(history) == [("shopper", f"hello from {state}")]
        assert redis_client.llen(f"support:conv:{history[0].conversation_id}:pending") == 0


def test_a_csat_answer_is_recorded_and_not_sent_to_the_bot(redis_server: RedisServer,
                                                           redis_client: redis.Redis) -> None:
    bot = EchoBot()

    async def scenario(client: aioredis.Redis) -> tuple[str, list[Message]]:
        router = make_router(client, bot)
        router.surveys.recorder = router.recorder = Recorder(EventLog(client, secret="test"))
        cid = await router.transcripts.open(CHANNEL, "psid-1", lang="en")
        await router.transcripts.update(cid, last_agent="marie@shop.example")
        await router.surveys.ask(await router.transcripts.require(cid), "csat")  # as `closed` does
        await router.submit(shopper(cid, '/csat{"score": 4}'))
        await router.idle()
        await router.recorder.flush()
        answers = [e for e in await EventLog(client).read() if e.kind == EventKind.SURVEY_ANSWERED]
        return cid, await router.transcripts.history(cid), answers

    cid, history, answers = on_redis(redis_server.url, scenario)
    assert bot.seen == []
    [answer] = answers
    assert {"survey": "csat", "score": 4, "conversation": cid, "channel": CHANNEL,
            "agent": pseudonymize("marie@shop.example", b"test", "agent_")}.items() <= answer.data.items()
    assert roles_texts(history) == [  # then "why?" (see test_surveys.py)
        ("bot", "How would you rate the help you received?"),
        ("shopper", '/csat{"score": 4}'),
        ("bot", "Thank you! In a few words, what is the main reason for your score? (optional)")]


def test_a_refused_delivery_is_recorded_and_raised(redis_server: RedisServer,
                                                   redis_client: redis.Redis) -> None:
    sender = RecordingSender(refuse="the 24-hour window is closed")

    async def scenario(client: aioredis.Redis) -> tuple[Message, list[Message], BaseException | None]:
        router = make_router(client, EchoBot(), sender)
        cid = await router.transcripts.open(CHANNEL, "psid-1")
        reply = Message(channel=CHANNEL, sender="psid-1", conversation_id=cid, text="Here you are",
                        role="agent", author="marie@shop.example")
        raised = None
        try:
            await router.send(reply)
        except DeliveryRefused as exc:
            raised = exc
        return reply, await router.transcripts.history(cid), raised

    reply, history, raised = on_redis(redis_server.url, scenario)
    assert isinstance(raised, DeliveryRefused) and raised.reason == "the 24-hour window is closed"
    assert [(m.role, m.author, m.text) for m in history] == [
        ("agent", "marie@shop.example", "Here you are"),
        ("system", "delivery_refused", "the 24-hour window is closed")]
    assert history[0].message_id == reply.message_id
    assert sender.delivered == []


def test_a_failing_bot_gives_an_apology_not_a_crash(redis_server: RedisServer,
                                                    redis_client: redis.Redis) -> None:
    bot = EchoBot(fail=True)
    sender = RecordingSender()

    async def scenario(client: aioredis.Redis) -> tuple[str, list[Message]]:
        router = make_router(client, bot, sender)
        cid = await router.transcripts.open(CHANNEL, "psid-1")
        await router.submit(shopper(cid, "hello?"))
        await router.submit(shopper(cid, "anyone?"))
        await router.idle()
        return cid, await router.transcripts.history(cid)

    cid, history = on_redis(redis_server.url, scenario)
    apology = "Sorry, I'm having a technical problem."
    assert sorted(m.role for m in history) == ["bot", "bot", "shopper", "shopper"]
    assert all(m.text.startswith(apology) for m in history if m.role == "bot")
    assert [m.text[: len(apology)] for m, _ in sender.delivered] == [apology, apology]
    assert bot.seen == ["hello?", "anyone?"]
    assert redis_client.llen(f"support:conv:{cid}:pending") == 0


def test_closing_resumes_the_bot_and_asks_for_a_rating(redis_server: RedisServer,
                                                       redis_client: redis.Redis) -> None:
    bot = EchoBot()
    sender = RecordingSender()

    async def scenario(client: aioredis.Redis) -> tuple[str, list[Message], list[dict[str, Any]]]:
        router = make_router(client, bot, sender)
        cid = await router.transcripts.open(CHANNEL, "psid-1", lang="en")
        events = client.pubsub()
        await events.subscribe("support:events")
        await router.closed(cid, "marie@shop.example")
        seen: list[dict[str, Any]] = []
        async with asyncio.timeout(5):
            while not seen or seen[-1]["type"] != "closed":
                item = await events.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if item is not None:
                    seen.append(json.loads(item["data"]))
        await events.aclose()
        return cid, await router.transcripts.history(cid), seen

    cid, history, events = on_redis(redis_server.url, scenario)
    assert bot.resumed == [cid]
    assert [(m.role, m.author) for m in history] == [("system", "closed"), ("bot", ""), ("bot", "")]
    assert history[1].text.startswith("Your conversation with our advisor has ended.")
    rating = history[2]
    assert rating.text == "How would you rate the help you received?"
    assert [b.payload for b in rating.buttons] == [f'/csat{{"score": {n}}}' for n in range(1, 6)]
    assert [m.text for m, _ in sender.delivered] == [history[1].text, rating.text]
    assert redis_client.hget(f"support:conv:{cid}", "last_agent") == "marie@shop.example"
    assert {"type": "closed", "conversation_id": cid}.items() <= events[-1].items()


def test_messages_a_crashed_router_acknowledged_are_routed_by_a_sweep(redis_server: RedisServer,
                                                                      redis_client: redis.Redis) -> None:
    """A gateway stores and acknowledges messages, then dies before routing them (its lock stays
    until it expires): another router's sweep routes them, in order, once."""
    bot = EchoBot()

    async def scenario(client: aioredis.Redis) -> tuple[int, int, list[Message]]:
        dead = make_router(client, EchoBot())
        cid = await dead.transcripts.open(CHANNEL, "psid-9")
        for i in range(3):   # stored and queued, as submit() does, but the drain never runs
            await dead.transcripts.append(shopper(cid, f"q{i}", mid=f"crash.{i}"), route=True)
        await client.set(f"support:conv:{cid}:lock", "dead-holder", px=300)   # the dead holder's lock
        alive = make_router(client, bot)
        while_locked = await alive.sweep()
        await asyncio.sleep(0.4)                                            # the lock expires
        after_expiry = await alive.sweep()
        await alive.idle()
        assert await alive.sweep() == 0 and cid not in await alive.transcripts.with_pending()
        return while_locked, after_expiry, await alive.transcripts.history(cid)

    while_locked, after_expiry, history = on_redis(redis_server.url, scenario)
    assert (while_locked, after_expiry) == (0, 1)
    assert bot.seen == ["q0", "q1", "q2"]
    _assert_answered_in_order(history)
