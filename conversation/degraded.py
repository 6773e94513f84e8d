"""Degraded mode: what shoppers get while no Rasa server answers.

The gateway still has the FAQ index, the opening hours and Redis, so it keeps answering what
it can: a confident FAQ answer directly from the retriever, otherwise an honest "technical
problem" with a way to leave a message; the message is captured here (e-mail, then text) and
becomes a real ticket with the usual business-hours promise. A ticket capture that started
in degraded mode finishes in it, even if Rasa comes back meanwhile.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from email_validator import EmailNotValidError, validate_email

from analytics.recorder import NULL, Recorder
from conversation import faq, payloads
from conversation.message import Button, Message
from conversation.transcript import Conversation
from kit import texts
from retrieval.source import FaqSource

LEAVE = "/leave_message"
MAX_RETRIES = 2   # invalid e-mail addresses in a row before the capture stops asking
# what leaves the capture, as the bot's `stop` intent does (no NLU here: whole messages)
STOP_WORDS = {"annuler", "annule", "laisse tomber", "laissez tomber", "stop", "arrête", "arrêtez",
              "oubliez", "tant pis", "cancel", "never mind", "nevermind", "forget it", "quit", "exit"}


Reply = tuple[str, tuple[Button, ...]]


def t(lang: str, key: str, **fields: str) -> str:
    return texts.text(lang, f"degraded.{key}", **fields)


class DegradedMode:
    """`faq()` -> the FAQ (None while the index loads); `update(cid, **fields)` stores the
    capture state on the conversation hash. Answers follow the bot's policy (conversation.faq):
    same A/B variant, same analytics events."""

    def __init__(self, faq: Callable[[], FaqSource | None], tickets: Callable[[], Any],
                 update: Callable[..., Awaitable[None]], recorder: Recorder = NULL):
        self.faq = faq
        self.tickets = tickets
        self.update = update
        self.recorder = recorder

    def capturing(self, conv: Conversation) -> bool:
        return bool(conv.get("degraded_ticket"))

    async def reply(self, message: Message, conv: Conversation) -> list[Reply]:
        lang = message.lang or conv.get("lang") or "fr"
        text = message.text.strip()
        leave = (Button(t(lang, "leave"), LEAVE),)
        if self.capturing(conv):
            return await self._capture(message, conv, lang, text)
        if text == LEAVE:
            await self.update(conv["id"], degraded_ticket=json.dumps({"step": "email"}))
            return [(t(lang, "email"), ())]
        source = self.faq()
        cid, mid = conv["id"], message.message_id
        parsed = payloads.parse(text)
        chosen_id = parsed[1].get("faq_id") if parsed and parsed[0] == "faq_choice" else None
        if isinstance(chosen_id, str) and source is not None:
            hit = source.entry(chosen_id)
            if hit is not None:
                chosen = faq.clicked(source, hit, conversation=cid, lang=lang, recorder=self.recorder,
                                     event_id=f"click:{cid}:{mid}")
                return [(chosen.text, ()), (t(lang, "note"), leave)]
        if text.startswith("/"):
            return [(t(lang, "thanks"), ())]
        if source is None:   # the index is still loading
            return [(t(lang, "down"), leave)]
        answered = await self._search(source, text, lang, conv, message)
        if answered is not None:
            return [(answered.text, ()), (t(lang, "note"), leave)]
        return [(t(lang, "down"), leave)]

    async def _capture(self, message: Message, conv: Conversation, lang: str, text: str) -> list[Reply]:
        """The e-mail, then the message; like the bot's forms: "annuler" leaves, a question the
        FAQ answers is answered and the address asked again, a second invalid address stops."""
        state = json.loads(conv["degraded_ticket"])
        if text.lower().strip(" .!") in STOP_WORDS:
            await self.update(conv["id"], degraded_ticket="")
            return [(t(lang, "cancelled"), ())]
        if state["step"] == "email":
            try:
                email = validate_email(text, check_deliverability=False).normalized
            except EmailNotValidError:
                return await self._not_an_email(message, conv, lang, text, state)
            await self.update(conv["id"], degraded_ticket=json.dumps({"step": "message", "email": email}))
            return [(t(lang, "message"), ())]
        opened = await self.tickets().open_ticket(
            conversation_id=conv["id"], channel=message.channel, email=state["email"], order_number="",
            message=text, lang=lang, reason=conv.get("reason", ""), source="degraded",
            request_key=f"degraded:{message.message_id}")
        await self.update(conv["id"], degraded_ticket="")
        return [(t(lang, "done", tid=opened["ticket_id"], promise=opened["promise"]), ())]

    async def _not_an_email(self, message: Message, conv: Conversation, lang: str, text: str,
                            state: dict[str, Any]) -> list[Reply]:
        source = self.faq()
        if source is not None and "@" not in text and faq.looks_like_a_question(text):
            answered = await self._search(source, text, lang, conv, message)
            if answered is not None:
                return [(answered.text, ()), (t(lang, "resume_email"), ())]
        retries = int(state.get("retries", 0)) + 1
        if retries >= MAX_RETRIES:
            await self.update(conv["id"], degraded_ticket="")
            return [(t(lang, "way_out"), (Button(t(lang, "leave"), LEAVE),))]
        await self.update(conv["id"], degraded_ticket=json.dumps({**state, "retries": retries}))
        return [(t(lang, "bad_email"), ())]

    async def _search(self, source: FaqSource, text: str, lang: str, conv: Conversation,
                      message: Message) -> faq.Answer | None:
        """The FAQ's direct answer to the message, counted once like the bot's."""
        result = await asyncio.to_thread(source.search, text, lang)
        cid = conv["id"]
        return faq.searched(source, result, conversation=cid, query=text, lang=lang,
                            recorder=self.recorder, event_id=f"faq:{cid}:{message.message_id}")
