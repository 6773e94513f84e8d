"""The gateway's client for the Rasa server: one bot turn, and resuming a paused conversation.

Rasa's REST channel answers a message with the bot's replies (text + buttons); the HTTP API
(token-protected) appends events such as `resume` when an agent gives a conversation back.
"""

from __future__ import annotations

from typing import Any

import httpx

from .channels.message import Button, Message

RESUME_EVENTS = [{"event": "resume"}, {"event": "slot", "name": "handoff", "value": None},
                 {"event": "slot", "name": "escalate", "value": False},
                 {"event": "slot", "name": "faq_misses", "value": 0}]


class BotUnavailable(Exception):
    """Rasa did not answer (down, restarting, or too slow)."""


class RasaClient:
    def __init__(self, url: str, token: str = "", *, timeout: float = 30.0):
        self.url = url.rstrip("/")
        self.token = token
        self._http = httpx.AsyncClient(timeout=timeout)

    async def say(self, message: Message) -> list[Message]:
        """One bot turn for a shopper message; the replies as outbound messages."""
        payload = {"sender": message.conversation_id, "message": message.text,
                   "metadata": {"channel": message.channel, "lang": message.lang}}
        try:
            res = await self._http.post(f"{self.url}/webhooks/rest/webhook", json=payload)
            res.raise_for_status()
            replies: list[dict[str, Any]] = res.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise BotUnavailable(str(exc) or type(exc).__name__) from exc
        return [reply_message(message, r) for r in replies if r.get("text") or r.get("buttons")]

    async def resume(self, conversation_id: str) -> None:
        """Un-pause the bot for a conversation an agent has closed, and forget the handoff
        (the rules would otherwise keep listening for the agent)."""
        try:
            res = await self._http.post(
                f"{self.url}/conversations/{conversation_id}/tracker/events",
                params={"token": self.token} if self.token else None, json=RESUME_EVENTS)
            res.raise_for_status()
        except httpx.HTTPError as exc:
            raise BotUnavailable(str(exc) or type(exc).__name__) from exc

    async def ready(self) -> bool:
        try:
            return (await self._http.get(f"{self.url}/", timeout=2.0)).status_code == 200
        except httpx.HTTPError:
            return False

    async def aclose(self) -> None:
        await self._http.aclose()


def reply_message(incoming: Message, reply: dict[str, Any]) -> Message:
    buttons = tuple(Button(str(b.get("title", "")), str(b.get("payload", "")))
                    for b in reply.get("buttons") or () if b.get("payload"))
    return Message(channel=incoming.channel, sender=incoming.sender,
                   conversation_id=incoming.conversation_id, text=str(reply.get("text") or ""),
                   role="bot", buttons=buttons, lang=incoming.lang)
