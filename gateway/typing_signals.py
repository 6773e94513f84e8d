"""Typing indicators, both ways: the shopper typing in the widget, the agent typing in the console.

A signal is a socket frame `{"type": "typing", "state": "start" | "stop"}` (the console adds the
`conversation_id`). It is ephemeral: relayed through Redis pub/sub like the messages (so every
gateway process's sockets see it) and nothing else: never stored in the transcript, never an
analytics event, never a reason to wake the bot. Clients send at most one "start" every few
seconds while someone types and a "stop" when they pause; receivers hide the indicator on
their own a few seconds after the last "start", so a lost "stop" cannot leave it on.

Who may signal what: a shopper only for the conversation of their own socket, and only while an
agent is involved (queued or held: a bot conversation has nobody to show it to); an agent only
for a conversation they hold (an admin: any held one). Each side of a conversation has a budget
in Redis (shared by the gateways), the shopper's address another, so a script cannot turn the
consoles' feed into a flood. The shopper sees the agent's display name, never an e-mail (the same
rule as the "has joined" message). On Messenger, the agent's "start" also shows Messenger's own
typing bubble (Send API `sender_action: typing_on`, at most every few seconds, best effort);
WhatsApp has no equivalent.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import redis.asyncio as aioredis

from conversation.transcript import Transcripts
from handoff.desk import HelpDesk
from kit.keys import EVENTS, OUTBOX, TYPING_PLATFORM

from .errors import error_code
from .ratelimit import RateLimit

log = logging.getLogger("gateway.typing")
STATES = ("start", "stop")
SIDE_RATE = (10, 10)          # signals per conversation side per 10 s (clients send <= ~5)
ADDRESS_RATE = (30, 10)       # a shopper's address, over all its conversations
PLATFORM_EVERY_S = 8          # Messenger's own bubble lasts ~20 s: one typing_on per 8 s is plenty
AGENT_INVOLVED = ("queued", "agent")
TOO_MANY = "too many typing signals: slow down"


class Refused(Exception):
    """A typing signal that is not relayed: the socket answers with this status and message."""

    def __init__(self, status: int, message: str, retry_after_s: int = 0):
        super().__init__(message)
        self.status, self.message, self.retry_after_s = status, message, retry_after_s

    def frame(self, **extra: Any) -> dict[str, Any]:
        """The error frame (`for: "typing"` lets clients ignore it without alarming anyone)."""
        out: dict[str, Any] = {"type": "error", "for": "typing", "error": error_code(self.status),
                               "status": self.status, "message": self.message, **extra}
        if self.retry_after_s:
            out["retry_after_s"] = self.retry_after_s
        return out


def typing_state(frame: dict[str, Any]) -> str:
    """The frame's "start" / "stop", or Refused(422)."""
    value = frame.get("state")
    if value not in STATES:
        raise Refused(422, 'a typing frame needs "state": "start" or "stop"')
    return str(value)


def shown_name(name: str) -> str:
    """What a shopper may read of an agent: the display name, never an e-mail (or a part of it)."""
    name = (name or "").strip()
    return "" if "@" in name else name[:80]


class TypingSignals:
    def __init__(self, redis: aioredis.Redis, transcripts: Transcripts, desk: HelpDesk,
                 senders: dict[str, Any]):
        self.redis = redis
        self.transcripts = transcripts
        self.desk = desk
        self.senders = senders
        self.side = RateLimit(redis, *SIDE_RATE)
        self.address = RateLimit(redis, *ADDRESS_RATE)
        self._tasks: set[asyncio.Task[None]] = set()

    @staticmethod
    def _within(wait: int) -> None:
        if wait:
            raise Refused(429, TOO_MANY, wait)

    async def from_shopper(self, cid: str, frame: dict[str, Any], client: str) -> None:
        """The widget's signal for its own conversation: to the consoles, if an agent is involved."""
        state = typing_state(frame)
        self._within(await self.side.hit(f"typing-shopper:{cid}"))
        self._within(await self.address.hit(f"typing-client:{client}"))
        conv = await self.transcripts.conversation(cid)
        if conv is None or conv.get("state") not in AGENT_INVOLVED:
            return   # nobody to show it to: dropped quietly (the widget need not know the state)
        await self.redis.publish(EVENTS, json.dumps({
            "type": "typing", "conversation_id": cid, "role": "shopper", "state": state,
            "agent": conv.get("agent", "")}))

    async def from_agent(self, agent: Any, frame: dict[str, Any]) -> None:
        """The console's signal for a conversation the agent holds: to the shopper's sockets."""
        state = typing_state(frame)
        cid = frame.get("conversation_id")
        if not isinstance(cid, str) or not cid.startswith("c-") or len(cid) > 64:
            raise Refused(422, "a typing frame needs the conversation_id")
        holder = await self.desk.holder(cid)
        if not holder or (holder != agent.email and agent.role != "admin"):
            raise Refused(403, "you do not hold this conversation")
        self._within(await self.side.hit(f"typing-agent:{cid}"))
        await self.redis.publish(OUTBOX.format(cid=cid), json.dumps({
            "type": "typing", "role": "agent", "state": state, "name": shown_name(agent.name)},
            ensure_ascii=False))
        if state == "start":
            conv = await self.transcripts.conversation(cid) or {}
            sender = self.senders.get(conv.get("channel", ""))
            if hasattr(sender, "typing_on") and conv.get("sender"):
                await self._platform_typing(cid, sender, conv["sender"])

    async def _platform_typing(self, cid: str, sender: Any, recipient: str) -> None:
        """Messenger's bubble, once per PLATFORM_EVERY_S per conversation, in the background
        (a slow Graph must not hold the console's socket)."""
        if not await self.redis.set(TYPING_PLATFORM.format(cid=cid), 1, nx=True, ex=PLATFORM_EVERY_S):
            return

        async def send() -> None:
            try:
                await sender.typing_on(recipient)
            except Exception as exc:   # noqa: BLE001  (cosmetic: never an error for the agent)
                log.info("platform typing indicator failed: %s", exc)

        task = asyncio.create_task(send())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
