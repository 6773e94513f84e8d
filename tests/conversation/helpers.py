"""Shared by the conversation tests: shoppers' messages on a channel with a Sender."""

from __future__ import annotations

from conversation.message import Message

CHANNEL = "messenger"  # a channel with a Sender, so deliveries are exercised


def shopper(cid: str, text: str, mid: str = "", sender: str = "psid-1") -> Message:
    extra = {"message_id": mid} if mid else {}
    return Message(channel=CHANNEL, sender=sender, conversation_id=cid, text=text, lang="en", **extra)


def roles_texts(messages: list[Message]) -> list[tuple[str, str]]:
    return [(m.role, m.text) for m in messages]


