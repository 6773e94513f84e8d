"""Where each shopper message goes: to Rasa, or to the agent who holds the conversation.

`submit` stores the message (deduplicated, in the transcript, queued for routing) and
returns; the conversation's queue is then drained by whichever gateway process holds its
Redis lock, one message at a time, so replies come in order even when a shopper sends
several messages at once or through two gateways. Every outbound message (bot, agent,
system) is stored before it is delivered on the shopper's own channel.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import replace
from typing import Any, Protocol

import redis.asyncio as aioredis

from analytics import events as ev
from analytics.recorder import NULL, Recorder
from conversation.degraded import DegradedMode
from conversation.language import Detector, message_language
from conversation.message import Button, Message
from conversation.ports import DeliveryRefused
from conversation.surveys import SurveyFlow
from conversation.transcript import Conversation, Transcripts
from handoff.desk import HelpDesk
from kit import texts
from kit.ids import customer_id
from kit.keys import EVENTS, LOCK, STATUS
from shop.config import SurveysConfig

log = logging.getLogger("conversation.router")
THUMBS = {"/affirm": True, "/deny": False}   # the "did this help?" buttons
LOCK_TIMEOUT_S = 15        # a crashed holder's lock expires this fast; a live one renews it
LOCK_RENEW_S = 5


class RouterMetrics(Protocol):
    def message(self, channel: str, direction: str) -> None: ...
    def stage(self, name: str, seconds: float) -> None: ...
    def error(self, kind: str) -> None: ...


class _NoMetrics:
    def message(self, channel: str, direction: str) -> None:
        pass

    def stage(self, name: str, seconds: float) -> None:
        pass

    def error(self, kind: str) -> None:
        pass


class Bot(Protocol):
    async def say(self, message: Message) -> list[Message]: ...
    async def resume(self, conversation_id: str) -> None: ...
    async def ticket_sent(self, conversation_id: str) -> None: ...




async def _keep_lock(lock: Any) -> None:
    """Renew a held conversation lock while a turn runs, so only a dead holder loses it."""
    while True:
        await asyncio.sleep(LOCK_RENEW_S)
        try:
            await lock.reacquire()
        except Exception:  # lost or Redis gone: the turn finishes, the next holder re-checks
            return


def say(lang: str, key: str, **fields: str) -> str:
    return texts.text(lang, f"conversation.{key}", **fields)


class ConversationRouter:
    """Implements conversation.ports.Inbox for every channel."""

    def __init__(self, redis: aioredis.Redis, transcripts: Transcripts, desk: HelpDesk, bot: Bot,
                 senders: dict[str, Any], *, detector: Detector | None = None,
                 recorder: Recorder = NULL, surveys: SurveysConfig | None = None,
                 degraded: DegradedMode | None = None, metrics: RouterMetrics | None = None):
        self.redis = redis
        self.transcripts = transcripts
        self.desk = desk
        self.bot = bot
        self.senders = senders
        self.detector = detector
        self.recorder = recorder
        self.degraded = degraded
        self.metrics: RouterMetrics = metrics or _NoMetrics()
        self.surveys = SurveyFlow(redis, transcripts, self._send_bot, config=surveys, recorder=recorder)
        self._tasks: set[asyncio.Task[None]] = set()
        self.degraded_turns = 0   # turns answered without Rasa (metrics)

    # -- inbound -----------------------------------------------------------------------

    async def submit(self, message: Message) -> bool:
        cid = message.conversation_id or await self.transcripts.open(message.channel, message.sender)
        conv = await self.transcripts.require(cid)
        # what the shopper wrote decides; the page's language (the widget's hint) only when the
        # text cannot tell and the conversation has no language yet
        lang = message_language(self.detector, message.text) or conv.get("lang", "") or message.lang
        message = replace(message, conversation_id=cid, lang=lang, role="shopper")
        if not await self._take_in(message, conv, route=True):
            return False
        self._spawn(self.drain(cid))
        return True

    async def file_for_agents(self, message: Message) -> bool:
        """A shopper's message that no bot turn answers (e-mail: the channel replies once by
        itself, agents do the rest): stored, counted and shown to the consoles like any other.
        False when it was already stored (a mail read twice)."""
        conv = await self.transcripts.require(message.conversation_id)
        return await self._take_in(replace(message, role="shopper"), conv, route=False)

    async def _take_in(self, message: Message, conv: Conversation, *, route: bool) -> bool:
        cid, lang = message.conversation_id, message.lang
        if not await self.transcripts.append(message, route=route, live=True):
            return False
        self.metrics.message(message.channel, "in")
        if lang and lang != conv.get("lang"):
            await self.transcripts.update(cid, lang=lang)
        self.recorder.emit(ev.message_in, conversation=cid, channel=message.channel, lang=lang or "fr",
                           customer=customer_id(message.channel, message.sender), reason=conv.get("reason"),
                           at=message.timestamp, id=f"in:{message.channel}:{message.message_id}")
        await self._publish_to_consoles(message, conv)
        return True

    async def record_status(self, channel: str, message_id: str, status: str, timestamp: float) -> None:
        await self.redis.hset(STATUS.format(channel=channel, mid=message_id),
                              mapping={status: timestamp, "last": status})
        await self.redis.expire(STATUS.format(channel=channel, mid=message_id), 30 * 86400)

    async def drain(self, cid: str) -> None:
        """Route this conversation's queued messages in order, if no other process is. Never
        raises: with Redis gone the messages stay queued and a later sweep routes them."""
        try:
            await self._drain(cid)
        except Exception as exc:
            log.warning("drain interrupted", extra={"conversation": cid,
                                                   "error": str(exc) or type(exc).__name__})

    async def _drain(self, cid: str) -> None:
        while await self.transcripts.has_pending(cid):
            lock = self.redis.lock(LOCK.format(cid=cid), timeout=LOCK_TIMEOUT_S, blocking=False)
            if not await lock.acquire():
                return  # the holder re-checks the queue after releasing
            keeper = asyncio.create_task(_keep_lock(lock))
            try:
                message = await self.transcripts.next_pending(cid)
                while message is not None:
                    try:
                        await self.route(message)
                    except Exception:  # one bad turn must not wedge the conversation
                        self.metrics.error("routing_failed")
                        log.exception("routing failed", extra={"conversation": cid})
                    message = await self.transcripts.done_pending(cid)
            finally:
                keeper.cancel()
                try:
                    await lock.release()
                except Exception:  # expired while a very slow turn ran: already free
                    log.warning("conversation lock expired during a turn", extra={"conversation": cid})

    async def route(self, message: Message) -> None:
        conv = await self.transcripts.require(message.conversation_id)
        if message.files and not message.text.strip():
            # a file alone says nothing the bot can read: an agent sees it (console), the bot
            # only acknowledges it and says how to reach someone who will look at it
            if conv.get("state") not in ("queued", "agent"):
                await self._send_bot(conv, say(message.lang or conv.get("lang", ""), "file_received"))
            return
        if await self.surveys.handle(message, conv):
            return
        helped = None
        if message.text in THUMBS:
            asked, question = await self._did_it_help(message)
            if asked:
                helped = THUMBS[message.text]
                self.recorder.emit(ev.thumbs, conversation=message.conversation_id, up=helped, query=question,
                                   id=f"thumbs:{message.message_id}")
        if conv.get("state") in ("queued", "agent"):
            return  # the agent's console follows the conversation through the events channel
        if self.degraded is not None and self.degraded.capturing(conv):
            await self._degraded_turn(message, conv)   # a message started without Rasa ends without it
            return
        started = time.perf_counter()
        try:
            replies = await self.bot.say(message)
            self.metrics.stage("bot", time.perf_counter() - started)
        except Exception as exc:
            self.metrics.error("bot_unavailable")
            log.error("bot unavailable", extra={"conversation": message.conversation_id, "error": str(exc)})
            if self.degraded is not None:
                await self._degraded_turn(message, conv)
                return
            replies = [self._bot_message(conv, say(message.lang, "bot_down"))]
        after = None
        for reply in replies:   # each send reads the conversation as it stands after the turn
            after = await self.send(reply)
        after = after or await self.transcripts.require(message.conversation_id)
        if after.get("state") == "queued" and conv.get("state") != "queued":
            await self.event("queued", message.conversation_id, after)
        elif helped and after.get("state") not in ("queued", "agent"):
            await self.surveys.ask_effort_once(after)

    async def _degraded_turn(self, message: Message, conv: Conversation) -> None:
        self.degraded_turns += 1
        started = time.perf_counter()
        try:
            replies = await self.degraded.reply(message, conv)  # type: ignore[union-attr]
            self.metrics.stage("degraded", time.perf_counter() - started)
        except Exception:
            log.exception("degraded mode failed", extra={"conversation": message.conversation_id})
            replies = [(say(message.lang, "bot_down"), ())]
        for text, buttons in replies:
            await self._send_bot(conv, text, buttons)

    async def _did_it_help(self, message: Message) -> tuple[bool, str | None]:
        """Is this yes/no the answer to "did this answer your question?" (the bot's last message
        offered the yes/no pair after an FAQ answer)? With the shopper's question, which
        is kept for the FAQ editors when the answer did not help."""
        recent = await self.transcripts.recent(message.conversation_id, 30)
        bots = [i for i, m in enumerate(recent) if m.role == "bot"]
        # the yes/no pair first (a third button may follow: "check my order")
        if not bots or [b.payload for b in recent[bots[-1]].buttons][:2] != list(THUMBS):
            return False, None
        asked = [m.text for m in recent[:bots[-1]] if m.role == "shopper" and not m.text.startswith("/")]
        return True, (asked[-1] if asked else None)

    # -- outbound ----------------------------------------------------------------------

    async def send(self, message: Message) -> Conversation:
        """Store, publish, then deliver on the shopper's channel; the conversation as it was
        once stored. DeliveryRefused (e.g. the WhatsApp window closed) is recorded in the
        transcript and raised to the caller."""
        conv = await self.transcripts.append_read(message, live=True)   # stored and published
        if conv is None:   # a message stored before (same id): published again all the same
            conv = await self.transcripts.require(message.conversation_id)
            await self.transcripts.publish(message)
        await self._publish_to_consoles(message, conv)
        if message.role in ("bot", "agent"):
            self.recorder.emit(ev.message_out, conversation=message.conversation_id, role=message.role,
                               at=message.timestamp, id=f"out:{message.message_id}")
        if message.role in ("bot", "agent"):
            self.metrics.message(message.channel, "out")
        sender = self.senders.get(message.channel)
        if sender is None:
            return conv
        last = float(conv["last_inbound_at"]) if conv.get("last_inbound_at") else None
        started = time.perf_counter()
        try:
            await sender.deliver(message, last_inbound_at=last)
            self.metrics.stage("delivery", time.perf_counter() - started)
        except DeliveryRefused as exc:
            self.metrics.error("delivery_refused")
            await self.transcripts.system(message.conversation_id, "delivery_refused", exc.reason,
                                          message_id=message.message_id)
            raise
        except Exception as exc:
            self.metrics.error("delivery_failed")
            log.error("delivery failed", extra={"conversation": message.conversation_id,
                                                "channel": message.channel, "error": str(exc)})
            await self.transcripts.system(message.conversation_id, "delivery_failed", str(exc)[:200],
                                          message_id=message.message_id)
        return conv

    async def _send_bot(self, conv: Conversation, text: str, buttons: tuple[Button, ...] = ()) -> None:
        await self.send(self._bot_message(conv, text, buttons))

    def _bot_message(self, conv: Conversation, text: str, buttons: tuple[Button, ...] = ()) -> Message:
        return Message(channel=conv["channel"], sender=conv["sender"], conversation_id=conv["id"],
                       text=text, role="bot", buttons=buttons, lang=conv.get("lang", ""))

    # -- agent side --------------------------------------------------------------------

    async def agent_joined(self, cid: str, agent_id: str, display_name: str = "") -> None:
        """Tells the shopper someone took over: by display name if the agent has one, else as
        "an advisor"; the agent's e-mail (or a part of it) never reaches a shopper."""
        conv = await self.transcripts.require(cid)
        await self.transcripts.system(cid, "claimed", agent=agent_id)
        lang, name = conv.get("lang", ""), display_name.strip()
        text = say(lang, "agent_joined", agent=name) if name and "@" not in name \
            else say(lang, "advisor_joined")
        await self.send(replace(self._bot_message(conv, text), role="system", author="agent_joined"))
        await self.event("claimed", cid, conv)

    async def agent_says(self, cid: str, agent_id: str, text: str) -> Message:
        conv = await self.transcripts.require(cid)
        message = Message(channel=conv["channel"], sender=conv["sender"], conversation_id=cid, text=text,
                          role="agent", author=agent_id, lang=conv.get("lang", ""))
        await self.send(message)
        return message

    async def closed(self, cid: str, agent_id: str) -> None:
        """After the desk closed it: give the conversation back to the bot, ask for a rating."""
        await self.transcripts.update(cid, last_agent=agent_id)
        await self.transcripts.system(cid, "closed", agent=agent_id)
        try:
            await self.bot.resume(cid)
        except Exception as exc:  # the tracker stays paused: resumed at the next attempt
            log.error("could not resume the bot", extra={"conversation": cid, "error": str(exc)})
        conv = await self.transcripts.require(cid)
        lang = conv.get("lang", "")
        await self.send(self._bot_message(conv, say(lang, "closed")))
        await self.surveys.ask(conv, "csat")
        await self.event("closed", cid, conv)

    # -- events ------------------------------------------------------------------------

    async def _publish_to_consoles(self, message: Message, conv: Conversation) -> None:
        """The conversation's live feed has the message (Transcripts.append, `live`); the
        consoles follow a conversation an agent holds or waits for."""
        if conv.get("state") in ("queued", "agent"):
            await self.redis.publish(EVENTS, json.dumps({
                "type": "message", "conversation_id": message.conversation_id,
                "agent": conv.get("agent", ""), "message": message.to_dict()}, ensure_ascii=False))

    async def event(self, kind: str, cid: str, conv: Conversation) -> None:
        """Tell every console (through any gateway) that a conversation changed."""
        await self.redis.publish(EVENTS, json.dumps({"type": kind, "conversation_id": cid,
                                                     "agent": conv.get("agent", "")}))

    # -- lifecycle ---------------------------------------------------------------------

    async def sweep(self) -> int:
        """Drain every conversation with unrouted messages whose lock is free: what a crashed
        gateway acknowledged but never routed. Run periodically by each gateway."""
        started = 0
        for cid in await self.transcripts.with_pending():
            if not await self.redis.exists(LOCK.format(cid=cid)):
                self._spawn(self.drain(cid))
                started += 1
        return started

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def idle(self, timeout: float = 30.0) -> None:
        """Wait for in-flight turns (graceful shutdown)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
