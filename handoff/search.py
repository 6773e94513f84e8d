"""Finding a past conversation or ticket: by ticket id, e-mail, order number or words.

Identifiers are exact (a ticket id, an e-mail compared case-insensitively, an order number in
the shop's format); words are matched without case or accents in the newest conversations and
tickets only (SCAN_CONVERSATIONS / SCAN_TICKETS), which keeps a search bounded on a shop with
years of history. Reads the desk's and transcripts' keys directly (kit/keys.py): this layer
sits below the conversation core.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from kit.keys import BY_CUSTOMER, CONV, CONVERSATIONS, LOG, TICKET, TICKETS_ALL
from kit.redis import decoded, text

SCAN_CONVERSATIONS = 1000
SCAN_TICKETS = 5000
MAX_RESULTS = 30
SNIPPET = 60
TICKET_ID = re.compile(r"^t-?0*(\d{1,9})$", re.IGNORECASE)
SEARCHED_ROLES = ("shopper", "agent", "bot")


@dataclass(frozen=True)
class Query:
    kind: str  # ticket | email | order | text
    value: str


def fold(value: str) -> str:
    """Lower case without accents: "Réclamation" finds "reclamation"."""
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def classify(raw: str, normalise_order: Any = None) -> Query:
    """What the agent typed: `normalise_order` is the shop's NumberFormat.normalise (None: no orders)."""
    value = raw.strip()
    if match := TICKET_ID.match(value):
        return Query("ticket", f"T-{int(match.group(1)):06d}")
    if "@" in value and " " not in value:
        return Query("email", value.casefold())
    if normalise_order is not None and (number := normalise_order(value)):
        return Query("order", number)
    return Query("text", fold(value))


def snippet(body: str, needle: str) -> str:
    """The words around the first match, for the result list."""
    at = fold(body).find(needle) if needle else -1
    if at < 0:
        return body[: SNIPPET * 2]
    start, end = max(0, at - SNIPPET), min(len(body), at + len(needle) + SNIPPET)
    return ("…" if start else "") + body[start:end].strip() + ("…" if end < len(body) else "")


class DeskSearch:
    """One request's searches: the newest tickets are read once per instance (the customer view
    searches each of the customer's e-mails after reading them itself), so make one per request."""

    def __init__(self, redis: aioredis.Redis, normalise_order: Any = None):
        self.redis = redis
        self.normalise_order = normalise_order
        self._recent: list[dict[str, str]] | None = None

    async def search(self, raw: str, limit: int = MAX_RESULTS) -> dict[str, Any]:
        query = classify(raw, self.normalise_order)
        tickets = await self._tickets(query)
        conversations = await self._conversations(query, tickets)
        return {
            "query": {"kind": query.kind, "value": query.value},
            "conversations": conversations[:limit],
            "tickets": tickets[:limit],
        }

    # -- tickets ----------------------------------------------------------------------------------

    async def recent_tickets(self) -> list[dict[str, str]]:
        """The newest SCAN_TICKETS tickets, any status, newest first (one pipelined read, once)."""
        if self._recent is None:
            ids = [text(t) for t in await self.redis.zrevrange(TICKETS_ALL, 0, SCAN_TICKETS - 1)]
            pipe = self.redis.pipeline(transaction=False)
            for tid in ids:
                pipe.hgetall(TICKET.format(tid=tid))
            self._recent = [t for raw in await pipe.execute() if (t := decoded(raw))]
        return self._recent

    async def _tickets(self, query: Query) -> list[dict[str, Any]]:
        if query.kind == "ticket":
            found = decoded(await self.redis.hgetall(TICKET.format(tid=query.value)))
            return [ticket_hit(found, "")] if found else []
        needle = fold(query.value) if query.kind in ("order", "text") and len(query.value) >= 2 else ""
        out = []
        for ticket in await self.recent_tickets():
            exact = (query.kind == "email" and ticket.get("email", "").casefold() == query.value) or (
                query.kind == "order" and ticket.get("order_number") == query.value
            )
            if ticket and (exact or (needle and needle in fold(ticket.get("message", "")))):
                out.append(ticket_hit(ticket, "" if exact else snippet(ticket.get("message", ""), needle)))
        return out

    # -- conversations ----------------------------------------------------------------------------

    async def _conversations(self, query: Query, tickets: list[dict[str, Any]]) -> list[dict[str, Any]]:
        hits: dict[str, str] = {}  # cid -> snippet
        for ticket in tickets:
            if ticket.get("conversation_id"):
                hits.setdefault(ticket["conversation_id"], "")
        if query.kind == "email":  # the same customer's other conversations
            for cid in list(hits):
                conv = decoded(await self.redis.hgetall(CONV.format(cid=cid))) or {}
                if conv.get("channel") and conv.get("sender"):
                    index = BY_CUSTOMER.format(channel=conv["channel"], sender=conv["sender"])
                    for other in await self.redis.zrange(index, 0, -1):
                        hits.setdefault(text(other), "")
        if query.kind in ("order", "text") and len(query.value) >= 2:
            for cid, said in await self._transcript_matches(fold(query.value)):
                hits[cid] = hits.get(cid) or said
        out = []
        for cid, said in hits.items():
            conv = decoded(await self.redis.hgetall(CONV.format(cid=cid)))
            if conv:
                out.append(conversation_hit(cid, conv, said))
        return sorted(out, key=lambda c: -float(c.get("updated_at") or 0))

    async def _transcript_matches(self, needle: str) -> list[tuple[str, str]]:
        ids = [text(c) for c in await self.redis.zrevrange(CONVERSATIONS, 0, SCAN_CONVERSATIONS - 1)]
        out = []
        for start in range(0, len(ids), 100):
            batch = ids[start : start + 100]
            pipe = self.redis.pipeline(transaction=False)
            for cid in batch:
                pipe.lrange(LOG.format(cid=cid), 0, -1)
            for cid, log in zip(batch, await pipe.execute(), strict=True):
                for raw in log:
                    message = json.loads(raw)
                    body = str(message.get("text") or "")
                    if message.get("role") in SEARCHED_ROLES and needle in fold(body):
                        out.append((cid, snippet(body, needle)))
                        break
        return out


def ticket_hit(ticket: dict[str, str], said: str) -> dict[str, Any]:
    keep = (
        "id",
        "status",
        "email",
        "order_number",
        "created_at",
        "due",
        "assignee",
        "conversation_id",
        "channel",
        "lang",
        "reason",
    )
    return {**{k: ticket.get(k, "") for k in keep}, "kind": "ticket", "snippet": said}


def conversation_hit(cid: str, conv: dict[str, str], said: str) -> dict[str, Any]:
    keep = (
        "channel",
        "state",
        "agent",
        "lang",
        "created_at",
        "updated_at",
        "closed_at",
        "close_reason",
        "reason",
    )
    return {**{k: conv.get(k, "") for k in keep}, "id": cid, "kind": "conversation", "snippet": said}
