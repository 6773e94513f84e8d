"""Tickets: what happens when no human can answer now.

Opened by the bot's ticket form, the widget's offline form or an agent, with the promised
reply time computed in business hours (config/shop.yml SLA); answered by e-mail, oldest
first. The shopper is told the reference and the real deadline, never a fixed text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from analytics.events import ticket_created, ticket_update
from analytics.recorder import NULL, Recorder
from handoff.desk import DeskError, HelpDesk, Ticket, unknown_ticket
from kit import texts
from kit.ids import customer_id
from shop.hours import BusinessHours

SIGNATURE_SEPARATOR = "\n\n--\n"   # mail clients fold what follows as a signature


class Tickets:
    def __init__(self, desk: HelpDesk, hours: BusinessHours, *, clock: Callable[[], datetime],
                 sla_hours: float = 8, mailer: Any = None, recorder: Recorder = NULL,
                 survey_links: Any = None, shop_name: str = "",
                 classify: Callable[[str, str], Awaitable[str]] | None = None):
        self.desk = desk
        self.hours = hours
        self.clock = clock
        self.sla_hours = sla_hours
        self.mailer = mailer
        self.recorder = recorder
        self.survey_links = survey_links   # handoff.survey_links.SurveyLinks: cold NPS link in replies
        self.shop_name = shop_name
        # (message, lang) -> contact reason from the ticket's own text ("" = cannot tell): the last
        # FAQ topic of the conversation is often another subject (a torn lampshade was filed
        # under payment methods because the shopper had asked about payment before)
        self.classify = classify
        # (ticket, agent, text) -> the sent message's id, or None: a channel that answers its own
        # tickets (the e-mail channel: threaded, in the conversation's transcript); else the mailer
        self.reply_via: Callable[[dict[str, str], str, str], Awaitable[str | None]] | None = None

    async def open_ticket(self, *, conversation_id: str, channel: str, email: str, order_number: str,
                          message: str, lang: str, reason: str, source: str,
                          request_key: str) -> dict[str, Any]:
        """Saves the ticket (idempotent per `request_key`) and returns its id and the promise.
        `reason` (the conversation's) stands only when the ticket's own text says nothing."""
        if self.classify is not None:
            reason = await self.classify(message, lang) or reason
        now = self.clock()
        due = self.hours.add_business_hours(now, self.sla_hours)
        ticket = Ticket(conversation_id=conversation_id, email=email, order_number=order_number or "-",
                        message=message, lang=lang, reason=reason, due=due.isoformat(), channel=channel,
                        source=source)
        tid = await self.desk.create_ticket(ticket, request_key)
        saved = await self.desk.ticket(tid) or {}
        self.recorder.emit(ticket_created, ticket=tid, channel=channel, lang=lang,
                           conversation=conversation_id, customer=customer_id("email", email.lower()),
                           reason=reason, due=due, id=f"ticket:{tid}")
        return {"ticket_id": tid, "due": saved.get("due", due.isoformat()), "email": email,
                "sla_hours": self.sla_hours,
                "promise": self.hours.describe_deadline(now, texts.norm_lang(lang), self.sla_hours)}

    async def reply(self, tid: str, agent_id: str, body: str) -> dict[str, Any]:
        """E-mails the agent's answer to the shopper, then records it (status pending)."""
        ticket = await self.desk.ticket(tid)
        if ticket is None:
            raise unknown_ticket(tid)
        if self.reply_via is not None and await self.reply_via(ticket, agent_id, body) is not None:
            return await self.desk.ticket(tid) or {}      # recorded by the channel once it left
        if self.mailer is None:
            raise DeskError("unavailable", "e-mail is not configured (SMTP_URL)", "mail_disabled")
        lang = texts.norm_lang(ticket.get("lang"))
        mail = body
        if self.survey_links is not None:
            mail += SIGNATURE_SEPARATOR + texts.text(lang, "tickets.nps_footer", shop=self.shop_name or "us",
                                                     url=self.survey_links.url("ticket", tid, lang))
        subject = texts.text(lang, "tickets.subject", tid=tid)
        message_id = await self.mailer.send(ticket["email"], subject, mail)
        await self.record_reply(tid, agent_id, body, message_id)
        return await self.desk.ticket(tid) or {}

    async def record_reply(self, tid: str, agent_id: str, body: str, message_id: str) -> None:
        """An answer that left by e-mail (this mailer, or the e-mail channel's thread, whichever
        view the agent wrote it in): the ticket waits for the customer, and its first response
        time and SLA count from it."""
        await self.desk.add_ticket_reply(tid, agent_id, body, message_id=message_id)
        # an event id is plain ([\w.:@+/-]): a Message-ID's angle brackets would have it refused
        digest = hashlib.sha256(message_id.encode()).hexdigest()[:32]
        self.recorder.emit(ticket_update, kind="ticket_replied", ticket=tid, agent=agent_id,
                           id=f"ticket-reply:{digest}")

    def overdue(self, ticket: dict[str, str]) -> bool:
        due = datetime.fromisoformat(ticket["due"]) if ticket.get("due") else None
        return bool(due and ticket.get("status") != "solved" and due < self.clock())
