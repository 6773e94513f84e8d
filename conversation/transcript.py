"""Conversations and their complete transcripts, in Redis.

Every message in or out (shopper, bot, agent, system events) is appended here before it is
acknowledged, so an agent who takes over sees everything and the shopper never repeats
themselves. A shopper message is deduplicated by its channel message id and queued for
routing in the same atomic step: a redelivered webhook is stored once, and a crash between
"stored" and "answered" leaves the message queued, not lost.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any, TypedDict, cast

import redis.asyncio as aioredis

from conversation.message import Message
from kit.ids import customer_id
from kit.keys import (
    BY_CUSTOMER,
    BY_SENDER,
    CONV,
    CONVERSATIONS,
    LOG,
    OUTBOX,
    PENDING,
    PENDING_CONVERSATIONS,
    SEEN,
)
from kit.redis import decoded, text

SEEN_TTL_S = 7 * 86400
STATES = ("bot", "queued", "agent")

# KEYS: pending, pending conversations; ARGV: cid. Returns the next pending message (or nil).
_DONE = """
redis.call('LPOP', KEYS[1])
local next = redis.call('LINDEX', KEYS[1], 0)
if not next then redis.call('SREM', KEYS[2], ARGV[1]) end
return next
"""
# KEYS: seen, log, conv, pending, pending conversations; ARGV: json, ttl, now, queue (0/1), role,
# cid, files, live channel ('' = none: published as {"type": "message", "message": json}),
# read (1: return the conversation hash after the append, instead of the transcript's length)
_APPEND = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[2]) == false then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], 'updated_at', ARGV[3])
if ARGV[5] == 'shopper' then redis.call('HSET', KEYS[3], 'last_inbound_at', ARGV[3]) end
if tonumber(ARGV[7]) > 0 then redis.call('HINCRBY', KEYS[3], 'files', ARGV[7]) end
if ARGV[4] == '1' then
  redis.call('RPUSH', KEYS[4], ARGV[1])
  redis.call('SADD', KEYS[5], ARGV[6])
end
if ARGV[8] ~= '' then
  redis.call('PUBLISH', ARGV[8], '{"type": "message", "message": ' .. ARGV[1] .. '}')
end
if ARGV[9] == '1' then return redis.call('HGETALL', KEYS[3]) end
return redis.call('LLEN', KEYS[2])
"""


class Conversation(TypedDict, total=False):
    """A conversation as stored in its `support:conv:{cid}` hash (every value is text; the
    help desk writes `state`, `agent` and `reason` too)."""

    id: str
    channel: str                # web | messenger | whatsapp
    sender: str                 # the channel's identity of the shopper
    client: str                 # digest of who opened it (web), for per-client budgets
    state: str                  # bot | queued | agent
    agent: str                  # who holds it now
    last_agent: str             # who helped last (surveys)
    lang: str
    reason: str                 # contact reason, once known
    created_at: str
    updated_at: str
    last_inbound_at: str        # the shopper's last message (WhatsApp's 24-hour window)
    degraded_ticket: str        # JSON: the ticket form's state while the bot is down
    survey_why: str             # JSON: the score awaiting its "why?"
    ces_asked: str
    files: str                  # how many files the shopper sent (the console's queue shows it)
    subject: str                # e-mail: the thread's first subject
    sender_name: str            # e-mail: the From display name
    mail_thread: str            # e-mail: JSON list of the thread's Message-IDs (threading headers)


class UnknownConversation(KeyError):
    pass


def new_conversation_id() -> str:
    """Unguessable: on the web channel the id is what lets a widget resume its conversation."""
    return "c-" + secrets.token_urlsafe(18)


class Transcripts:
    def __init__(self, redis: aioredis.Redis):
        self.redis = redis
        self._append = redis.register_script(_APPEND)
        self._done = redis.register_script(_DONE)

    async def open(self, channel: str, sender: str, *, lang: str = "", cid: str | None = None,
                   client: str = "") -> str:
        """The sender's current conversation on this channel, created if it has none. `client`: a
        digest of who opened it (the web client's address), for per-client limits."""
        key = BY_SENDER.format(channel=channel, sender=sender)
        existing = await self.redis.get(key)
        if existing:
            return text(existing)
        cid = cid or new_conversation_id()
        if not await self.redis.set(key, cid, nx=True):  # another process created it first
            return await self.open(channel, sender, lang=lang, client=client)
        await self._create(cid, channel, sender, lang=lang, client=client)
        return cid

    async def start(self, channel: str, sender: str, *, lang: str = "", cid: str | None = None,
                    **fields: str) -> str:
        """A new conversation even when the sender has one: each new e-mail thread is its own
        conversation (the sender's latest is still the one `open` returns)."""
        cid = cid or new_conversation_id()
        await self.redis.set(BY_SENDER.format(channel=channel, sender=sender), cid)
        await self._create(cid, channel, sender, lang=lang, **fields)
        return cid

    async def _create(self, cid: str, channel: str, sender: str, *, lang: str = "", client: str = "",
                      **fields: str) -> None:
        now = time.time()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(CONV.format(cid=cid), mapping={
                "id": cid, "channel": channel, "sender": sender, "state": "bot", "agent": "",
                "lang": lang, "created_at": now, "updated_at": now, "client": client, **fields})
            pipe.zadd(BY_CUSTOMER.format(channel=channel, sender=sender), {cid: now})
            pipe.zadd(CONVERSATIONS, {cid: now})
            await pipe.execute()

    async def conversation(self, cid: str) -> Conversation | None:
        return cast("Conversation | None", decoded(await self.redis.hgetall(CONV.format(cid=cid))))

    async def client_of(self, cid: str) -> str:
        """Who is behind a conversation, for per-client budgets: the client digest stored when it
        was opened (web), else the channel identity (a Messenger or WhatsApp user)."""
        conv = await self.conversation(cid) or {}
        return conv.get("client") or customer_id(conv.get("channel", ""), conv.get("sender", cid))

    async def require(self, cid: str) -> Conversation:
        conv = await self.conversation(cid)
        if conv is None:
            raise UnknownConversation(cid)
        return conv

    async def update(self, cid: str, **fields: Any) -> None:
        await self.redis.hset(CONV.format(cid=cid), mapping={k: str(v) for k, v in fields.items()})

    async def append(self, message: Message, *, route: bool = False, live: bool = False) -> bool:
        """Store a message once (by channel + message id); `route` also queues it for the
        router, `live` publishes it on the conversation's live feed (OUTBOX), in the same
        atomic step. False when it was already stored (then nothing is published)."""
        return bool(await self._append(**self._call(message, route=route, live=live, read=False)))

    async def append_read(self, message: Message, *, live: bool = True) -> Conversation | None:
        """`append`, returning the conversation as it is right after (one round trip instead of
        an append and a read: several a bot turn); None when the message was already stored."""
        fields = await self._append(**self._call(message, route=False, live=live, read=True))
        if not fields:
            return None
        return cast("Conversation", decoded(dict(zip(fields[::2], fields[1::2], strict=True))))

    async def publish(self, message: Message) -> None:
        """A stored message on the conversation's live feed again, as `append(live=True)` puts it."""
        live = json.dumps({"type": "message", "message": message.to_dict()}, ensure_ascii=False)
        await self.redis.publish(OUTBOX.format(cid=message.conversation_id), live)

    @staticmethod
    def _call(message: Message, *, route: bool, live: bool, read: bool) -> dict[str, list[Any]]:
        cid = message.conversation_id
        if not cid:
            raise ValueError("a message needs its conversation id before it is stored")
        keys = [SEEN.format(channel=message.channel, mid=message.message_id), LOG.format(cid=cid),
                CONV.format(cid=cid), PENDING.format(cid=cid), PENDING_CONVERSATIONS]
        args = [json.dumps(message.to_dict(), ensure_ascii=False), SEEN_TTL_S, message.timestamp,
                "1" if route else "0", message.role, cid, len(message.files),
                OUTBOX.format(cid=cid) if live else "", "1" if read else "0"]
        return {"keys": keys, "args": args}

    async def system(self, cid: str, event: str, note: str = "", **extra: str) -> Message:
        """A system event ("handed to agent", "closed") in the transcript."""
        conv = await self.require(cid)
        body = note or (json.dumps(extra, ensure_ascii=False) if extra else "")
        msg = Message(channel=conv["channel"], sender=conv["sender"], conversation_id=cid, role="system",
                      author=event, text=body)
        await self.append(msg)
        return msg

    async def recent(self, cid: str, n: int = 20) -> list[Message]:
        """The last `n` messages, oldest first (O(n), whatever the conversation's length)."""
        raw = await self.redis.lrange(LOG.format(cid=cid), -n, -1)
        return [Message.from_dict(json.loads(item)) for item in raw]

    async def history(self, cid: str, *, after: int = 0, limit: int = 500) -> list[Message]:
        """Messages from position `after` (0 = the first), oldest first."""
        raw = await self.redis.lrange(LOG.format(cid=cid), after, after + limit - 1)
        return [Message.from_dict(json.loads(item)) for item in raw]

    async def next_pending(self, cid: str) -> Message | None:
        """The oldest shopper message not yet routed (left in place until `done_pending`)."""
        raw = await self.redis.lindex(PENDING.format(cid=cid), 0)
        return Message.from_dict(json.loads(raw)) if raw else None

    async def done_pending(self, cid: str) -> Message | None:
        """The oldest pending message is routed: drop it, and return the next one (the router's
        loop reads its next message in the same round trip)."""
        raw = await self._done(keys=[PENDING.format(cid=cid), PENDING_CONVERSATIONS], args=[cid])
        return Message.from_dict(json.loads(raw)) if raw else None

    async def with_pending(self) -> list[str]:
        """Conversations with messages not yet routed: after a crash, whoever sweeps them
        (ConversationRouter.sweep) routes what a dead gateway had acknowledged."""
        return [text(c) for c in await self.redis.smembers(PENDING_CONVERSATIONS)]

    async def has_pending(self, cid: str) -> bool:
        return bool(await self.redis.llen(PENDING.format(cid=cid)))

    async def customer_conversations(self, channel: str, sender: str) -> list[str]:
        raw = await self.redis.zrange(BY_CUSTOMER.format(channel=channel, sender=sender), 0, -1)
        return [text(r) for r in raw]
