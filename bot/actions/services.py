"""What the custom actions need from the rest of the system, injected by the gateway.

Actions are registered as instances holding a `Services`, so several gateway apps (or
tests) can run side by side with their own retriever, calendar, desk and orders.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from analytics.recorder import NULL, Recorder
from conversation.faq import reason_of
from handoff.desk import HelpDesk
from handoff.tickets import Tickets
from kit import texts
from kit.texts import norm_lang
from retrieval.source import FaqSource
from shop.hours import BusinessHours
from shop.order_gate import OrderGate


@dataclass
class Services:
    retriever: Callable[[], FaqSource | None]   # None while the index is loading
    hours: BusinessHours
    desk: HelpDesk
    order_gate: OrderGate                       # the only way to read an order (proof + limits)
    sla_hours: float = 8
    # contact reason -> offer to look the shopper's order up after an answer on it
    order_offer: Callable[[str], bool] = field(default=lambda reason: False)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    recorder: Recorder = field(default=NULL)    # analytics events (background, never blocking)
    # who is behind a conversation, for per-client limits: conversation id -> a stable key
    client_of: Callable[[str], Awaitable[str]] = field(default=lambda cid: _same(cid))
    # (conversation id, client) -> seconds before it may open another ticket, 0 = now (counts one)
    ticket_wait: Callable[[str, str], Awaitable[int]] = field(default=lambda cid, client: _no_wait())

    @property
    def tickets(self) -> Tickets:
        return Tickets(self.desk, self.hours, clock=self.clock, sla_hours=self.sla_hours,
                       recorder=self.recorder, classify=self.reason_of)

    async def reason_of(self, text: str, lang: str) -> str:
        """A ticket's contact reason from its own text (conversation.faq.reason_of)."""
        return await reason_of(self.retriever(), text, lang)

    async def availability(self) -> str:
        """"human" (open and somebody online), "busy" (open, nobody online) or "closed":
        the bot never promises an absent human, nor says "closed" during opening hours."""
        if not self.hours.is_open(self.clock()):
            return "closed"
        return "human" if await self.desk.agents_online() > 0 else "busy"

    def next_opening(self, lang: str) -> str:
        text = self.hours.describe_next_opening(self.clock(), norm_lang(lang))
        return text or texts.text(lang, "hours.soon")


async def _same(cid: str) -> str:
    return cid


async def _no_wait() -> int:
    return 0
