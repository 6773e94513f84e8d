"""Stand-ins for Rasa (the router's `Bot`) and for a channel's `Sender`, for tests that
exercise the router, the transcripts and Redis for real without a Rasa server."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from conversation.message import Button, Message
from conversation.ports import DeliveryRefused

DID_IT_HELP = (Button("Yes", "/affirm"), Button("No", "/deny"))


class EchoBot:
    """Rasa's part: answers "echo: <text>" after a short pause; records calls and overlapping
    turns (`fail`: Rasa is down)."""

    def __init__(self, delay: float = 0.005, fail: bool = False) -> None:
        self.delay = delay
        self.fail = fail
        self.seen: list[str] = []
        self.resumed: list[str] = []
        self.tickets_sent: list[str] = []
        self.in_flight: dict[str, int] = defaultdict(int)
        self.max_in_flight = 0

    async def say(self, message: Message) -> list[Message]:
        cid = message.conversation_id
        self.in_flight[cid] += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight[cid])
        try:
            await asyncio.sleep(self.delay)
            self.seen.append(message.text)
            if self.fail:
                raise ConnectionError("rasa is down")
            return [Message(channel=message.channel, sender=message.sender, conversation_id=cid,
                            text=f"echo: {message.text}", role="bot", lang=message.lang)]
        finally:
            self.in_flight[cid] -= 1

    async def resume(self, conversation_id: str) -> None:
        self.resumed.append(conversation_id)

    async def ticket_sent(self, conversation_id: str) -> None:
        self.tickets_sent.append(conversation_id)


class FaqBot:
    """Answers any question with an FAQ answer + "did that help?"; answers yes/no with a word."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def say(self, message: Message) -> list[Message]:
        self.seen.append(message.text)
        def reply(text: str, buttons: tuple[Button, ...] = ()) -> Message:
            return Message(channel=message.channel, sender=message.sender,
                           conversation_id=message.conversation_id, text=text, role="bot",
                           buttons=buttons, lang="en")
        if message.text in ("/affirm", "/deny"):
            return [reply("Glad to help!" if message.text == "/affirm" else "Sorry about that.")]
        return [reply("Your tracking link is in the shipping e-mail."), reply("Did that help?", DID_IT_HELP)]

    async def resume(self, conversation_id: str) -> None:
        return None

    async def ticket_sent(self, conversation_id: str) -> None:
        return None


class RecordingSender:
    def __init__(self, refuse: str = "") -> None:
        self.refuse = refuse
        self.delivered: list[tuple[Message, float | None]] = []

    async def deliver(self, message: Message, *, last_inbound_at: float | None) -> None:
        if self.refuse:
            raise DeliveryRefused(self.refuse)
        self.delivered.append((message, last_inbound_at))
