"""Degraded mode: what shoppers get while no Rasa server answers.

The gateway still has the FAQ index, the opening hours and Redis, so it keeps answering what
it can: a confident FAQ answer directly from the retriever, otherwise an honest "technical
problem" with a way to leave a message; the message is captured here (e-mail, then text) and
becomes a real ticket with the usual business-hours promise. A ticket capture that started
in degraded mode finishes in it, even if Rasa comes back meanwhile.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from email_validator import EmailNotValidError, validate_email

from conversation.message import Button, Message
from kit import texts

LEAVE = "/leave_message"
CHOICE = re.compile(r'^/faq_choice\{"faq_id":\s*"([a-z0-9-]{1,100})"\}$')


Reply = tuple[str, tuple[Button, ...]]


def t(lang: str, key: str, **fields: str) -> str:
    return texts.text(lang, f"degraded.{key}", **fields)


class DegradedMode:
    """`search(text, lang)` -> retrieval SearchResult or None (index loading); `entry(id)` -> Hit;
    `update(cid, **fields)` stores the capture state on the conversation hash."""

    def __init__(self, search: Callable[[str, str], Awaitable[Any]], entry: Callable[[str], Any],
                 tickets: Callable[[], Any], update: Callable[..., Awaitable[None]]):
        self.search = search
        self.entry = entry
        self.tickets = tickets
        self.update = update

    def capturing(self, conv: dict[str, str]) -> bool:
        return bool(conv.get("degraded_ticket"))

    async def reply(self, message: Message, conv: dict[str, str]) -> list[Reply]:
        lang = message.lang or conv.get("lang") or "fr"
        text = message.text.strip()
        leave = (Button(t(lang, "leave"), LEAVE),)
        if self.capturing(conv):
            return await self._capture(message, conv, lang, text)
        if text == LEAVE:
            await self.update(conv["id"], degraded_ticket=json.dumps({"step": "email"}))
            return [(t(lang, "email"), ())]
        if m := CHOICE.match(text):
            hit = self.entry(m.group(1))
            if hit is not None:
                return [(hit.answer, ()), (t(lang, "note"), leave)]
        if text.startswith("/"):
            return [(t(lang, "thanks"), ())]
        result = await self.search(text, lang)
        if result is not None and result.band == "answer" and result.hits:
            return [(result.hits[0].answer, ()), (t(lang, "note"), leave)]
        return [(t(lang, "down"), leave)]

    async def _capture(self, message: Message, conv: dict[str, str], lang: str, text: str) -> list[Reply]:
        state = json.loads(conv["degraded_ticket"])
        if state["step"] == "email":
            try:
                email = validate_email(text, check_deliverability=False).normalized
            except EmailNotValidError:
                return [(t(lang, "bad_email"), ())]
            await self.update(conv["id"], degraded_ticket=json.dumps({"step": "message", "email": email}))
            return [(t(lang, "message"), ())]
        opened = await self.tickets().open_ticket(
            conversation_id=conv["id"], channel=message.channel, email=state["email"], order_number="",
            message=text, lang=lang, reason=conv.get("reason", ""), source="degraded",
            request_key=f"degraded:{message.message_id}")
        await self.update(conv["id"], degraded_ticket="")
        return [(t(lang, "done", tid=opened["ticket_id"], promise=opened["promise"]), ())]
