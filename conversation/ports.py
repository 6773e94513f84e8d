"""What a channel adapter needs from the rest of the gateway, and what it provides.

Inbound: an adapter turns a webhook/socket frame into `Message`s and hands each to the
`Inbox`, which dedupes by message id, appends it to the transcript (before the adapter
acknowledges anything) and routes it to the bot or the agent in the background.
Outbound: the router hands bot and agent messages to the channel's `Sender`.
"""

from __future__ import annotations

from typing import Protocol

from conversation.message import Message


class DeliveryRefused(Exception):
    """The platform's rules forbid this message now (e.g. WhatsApp's 24-hour window closed);
    the reason is shown to the agent instead of the message being silently lost. `key` names it
    for the console's texts (`window_closed`, `mail_disabled`)."""

    def __init__(self, reason: str, key: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.key = key


class Inbox(Protocol):
    async def submit(self, message: Message) -> bool:
        """Store the shopper's message (conversation_id may be empty: resolved from channel +
        sender) and schedule its routing; False when this message id was already received."""
        ...

    async def record_status(self, channel: str, message_id: str, status: str, timestamp: float) -> None:
        """A delivery/read status callback for a message we sent."""
        ...


class Sender(Protocol):
    async def deliver(self, message: Message, *, last_inbound_at: float | None) -> None:
        """Send a bot/agent message to the shopper; raise DeliveryRefused when not allowed.
        `last_inbound_at`: epoch seconds of the shopper's last message on this channel."""
        ...
