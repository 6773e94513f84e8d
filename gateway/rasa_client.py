"""The gateway's client for the Rasa servers: one bot turn, and resuming a paused conversation.

Rasa's only channel, bot/gateway_channel.py (the REST webhook behind a shared secret, sent in
`X-Gateway-Token`), answers a message with the bot's replies (text + buttons); the HTTP API
(same token, as `?token=`) appends events such as `resume` when an agent gives a conversation back.

Several servers may be given (`RASA_URL=http://a:5005,http://b:5005`): they share their
tracker and lock stores in Redis, so any of them can take any turn. Each has a circuit
breaker (purgatory): after FAILURES_TO_OPEN failures in a row it is skipped for OPEN_S
seconds, then tried again; while every breaker is open, `say` fails at once with
BotUnavailable and the router answers in degraded mode instead of making shoppers wait.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

import httpx
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState

from conversation.message import Button, Message

RESUME_EVENTS = [{"event": "resume"}, {"event": "slot", "name": "handoff", "value": None},
                 {"event": "slot", "name": "escalate", "value": False},
                 {"event": "slot", "name": "faq_misses", "value": 0}]
# the widget's message form sent a ticket: whatever form the bot had open (its own message form
# asking for the e-mail) ends, so the shopper is not asked again for what they just gave
TICKET_SENT_EVENTS = [{"event": "active_loop", "name": None},
                      *({"event": "slot", "name": slot, "value": None} for slot in
                        ("requested_slot", "ticket_email", "ticket_order", "ticket_message", "handoff")),
                      {"event": "slot", "name": "form_retries", "value": 0}]
FAILURES_TO_OPEN = 3
OPEN_S = 15.0
TIMEOUT = httpx.Timeout(20.0, connect=2.0)   # a turn takes ~0.1 s; a connect that hangs is a dead host
CHANNEL_PATH = "/webhooks/gateway/webhook"    # bot/gateway_channel.py (GatewayInput.name() == "gateway")
CHANNEL_HEADER = "X-Gateway-Token"            # its shared secret: RASA_TOKEN


class BotUnavailable(Exception):
    """No Rasa server answered (down, restarting, too slow, or every breaker open)."""


class RasaClient:
    """`find_order` reads an order number in the shop's format in a shopper's text (sent as the
    `order_number` metadata, bot/components/metadata.py): Rasa's NLU only knows the demo's."""

    def __init__(self, url: str, token: str = "", *, timeout: httpx.Timeout | float = TIMEOUT,
                 failures_to_open: int = FAILURES_TO_OPEN, open_s: float = OPEN_S,
                 find_order: Callable[[str], str | None] | None = None):
        self.urls = [u.strip().rstrip("/") for u in url.split(",") if u.strip()]
        if not self.urls:
            raise ValueError("RASA_URL is empty")
        self.url = self.urls[0]
        self.token = token
        self._http = httpx.AsyncClient(timeout=timeout)
        self._breakers = AsyncCircuitBreakerFactory(default_threshold=failures_to_open, default_ttl=open_s)
        self._next = itertools.cycle(range(len(self.urls)))
        self._last_error: dict[str, str] = {}
        self._last_ok: dict[str, float] = {}
        self.find_order = find_order

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The request on the next server whose breaker is closed (round robin, then failover)."""
        start = next(self._next)
        errors = []
        for i in range(len(self.urls)):
            url = self.urls[(start + i) % len(self.urls)]
            try:
                async with await self._breakers.get_breaker(url):
                    res = await self._http.request(method, url + path, **kwargs)
                    if res.status_code >= 500:
                        raise httpx.HTTPStatusError(f"{res.status_code} from Rasa", request=res.request,
                                                    response=res)
                self._last_ok[url] = time.time()
                self._last_error.pop(url, None)
                return res
            except OpenedState:
                errors.append(f"{url}: circuit open")
            except httpx.HTTPError as exc:
                self._last_error[url] = str(exc) or type(exc).__name__
                errors.append(f"{url}: {self._last_error[url]}")
        raise BotUnavailable("; ".join(errors))

    async def say(self, message: Message) -> list[Message]:
        """One bot turn for a shopper message; the replies as outbound messages."""
        metadata = {"channel": message.channel, "lang": message.lang}
        if self.find_order is not None and (number := self.find_order(message.text)):
            metadata["order_number"] = number
        payload = {"sender": message.conversation_id, "message": message.text, "metadata": metadata}
        res = await self._call("POST", CHANNEL_PATH, json=payload, headers={CHANNEL_HEADER: self.token})
        try:
            res.raise_for_status()
            replies: list[dict[str, Any]] = res.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise BotUnavailable(str(exc) or type(exc).__name__) from exc
        return [reply_message(message, r) for r in replies if r.get("text") or r.get("buttons")]

    async def resume(self, conversation_id: str) -> None:
        """Un-pause the bot for a conversation an agent has closed, and forget the handoff
        (the rules would otherwise keep listening for the agent)."""
        await self._append_events(conversation_id, RESUME_EVENTS)

    async def ticket_sent(self, conversation_id: str) -> None:
        """The shopper left a message through the widget's own form: the bot's forms end."""
        await self._append_events(conversation_id, TICKET_SENT_EVENTS)

    async def _append_events(self, conversation_id: str, events: list[dict[str, Any]]) -> None:
        res = await self._call("POST", f"/conversations/{conversation_id}/tracker/events",
                               params={"token": self.token} if self.token else None, json=events)
        try:
            res.raise_for_status()
        except httpx.HTTPError as exc:
            raise BotUnavailable(str(exc) or type(exc).__name__) from exc

    async def ready(self) -> bool:
        return (await self.status())["ok"]

    async def status(self) -> dict[str, Any]:
        """For /readyz: each server's breaker state and a quick probe; ok when one answers."""
        servers = {}
        for url in self.urls:
            breaker = await self._breakers.get_breaker(url)
            try:
                up = (await self._http.get(f"{url}/", timeout=2.0)).status_code == 200
                error = None if up else "unexpected status"
            except httpx.HTTPError as exc:
                up, error = False, str(exc) or type(exc).__name__
            servers[url] = {"up": up, "circuit": breaker.context.state, "error": error}
        return {"ok": any(s["up"] for s in servers.values()), "servers": servers}

    async def aclose(self) -> None:
        await self._http.aclose()


def reply_message(incoming: Message, reply: dict[str, Any]) -> Message:
    buttons = tuple(Button(str(b.get("title", "")), str(b.get("payload", "")))
                    for b in reply.get("buttons") or () if b.get("payload"))
    return Message(channel=incoming.channel, sender=incoming.sender,
                   conversation_id=incoming.conversation_id, text=str(reply.get("text") or ""),
                   role="bot", buttons=buttons, lang=incoming.lang)
