"""GDPR: export and erase everything about one customer, and purge what is older than the
retention periods of config/shop.yml.

A customer is found by e-mail: their tickets, the conversations those tickets came from, every
other conversation of the same channel identity (web visitor, Messenger PSID, WhatsApp
number), and the pseudonyms analytics keeps for them. Erasing deletes every Redis key named
after those conversations or tickets (transcripts, queues, Rasa trackers, analytics facts,
dedupe markers), the stream entries and survey comments that refer to them, and the ticket
indexes. Day counters stay: they are anonymous sums.

Keys are deleted by their exact names, rebuilt from the key templates and from what the
transcripts, ticket logs and the analytics stream record (message and event ids), never by a
pattern built from an id: conversation, sender and ticket ids can come from outside (a Rasa
sender id, a ticket's conversation id), and `*`, `?` or `[a-z]` in one of them, or an id that is
a prefix of another, would make a pattern match other customers' keys. The few scans left have
a fixed prefix, escape the id (`glob_escape`) and check every key they return.
"""

from __future__ import annotations

import base64
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import redis.asyncio as aioredis

from analytics.kpi import SURVEY_RANGES
from analytics.log import CONV_FACTS, LAST_CONTACT, SLA_PENDING, STREAM, TICKET_FACTS, VERBATIMS
from analytics.log import SEEN as EVENT_SEEN
from kit.ids import customer_id
from kit.keys import (
    ACTIVE,
    ATTACHMENT_BYTES,
    ATTACHMENTS,
    BY_CUSTOMER,
    BY_SENDER,
    CONV,
    CONVERSATIONS,
    HANDOFF,
    LOCK,
    LOG,
    MAIL_INBOUND,
    MAIL_MESSAGE_ID,
    NOTES,
    OFFER,
    PENDING,
    PENDING_CONVERSATIONS,
    QUEUE,
    RASA_LOCK,
    RASA_TRACKER,
    SEEN,
    STATUS,
    SURVEYS,
    TICKET,
    TICKET_IDEMPOTENCY,
    TICKET_LOG,
    TICKETS_ALL,
    TICKETS_OPEN,
)
from kit.pii import analytics_secret as default_secret
from kit.pii import pseudonymize
from kit.redis import decoded, text
from shop.config import RetentionConfig

from .attachments import AttachmentStore, default_root, export_entry

SCAN_COUNT = 1000
# Rasa's tracker and lock are keyed by our conversation id (kit/keys.py); a ticket's
# conversation id is Rasa's.
# Per-conversation keys beside those of the log's messages; a new one must be added here.
CONVERSATION_KEYS = (CONV, LOG, NOTES, PENDING, LOCK, HANDOFF, CONV_FACTS, RASA_TRACKER, RASA_LOCK,
                     ATTACHMENTS, ATTACHMENT_BYTES)
TICKET_KEYS = (TICKET, TICKET_LOG, TICKET_FACTS)
_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")


def glob_escape(value: str) -> str:
    """`value` matched literally inside a Redis MATCH pattern (`*`, `?`, `[`, `]`, `\\` escaped):
    an id from outside must never act as a wildcard over other customers' keys."""
    return _GLOB_SPECIAL.sub(r"\\\1", value)


def message_keys(message: dict[str, Any]) -> set[str]:
    """The dedupe, delivery-status and analytics keys named after one transcript message's id
    (conversation/router.py, surveys.py: `in:`, `out:`, `thumbs:`, `why:`, `{survey}:` events)."""
    channel, mid = str(message.get("channel", "")), str(message.get("message_id") or "")
    if not mid:
        return set()
    events = {f"in:{channel}:{mid}", f"out:{mid}", f"thumbs:{mid}", f"why:{mid}",
              *(f"{survey}:{mid}" for survey in SURVEY_RANGES)}
    return {SEEN.format(channel=channel, mid=mid), STATUS.format(channel=channel, mid=mid),
            *(EVENT_SEEN.format(eid=eid) for eid in events)}


@dataclass
class Subject:
    email: str
    tickets: set[str] = field(default_factory=set)
    conversations: set[str] = field(default_factory=set)
    identities: set[str] = field(default_factory=set)      # "channel:sender"
    pseudonyms: set[str] = field(default_factory=set)

    def refers(self, values: dict[str, str]) -> bool:
        """Does a flat record (stream entry, survey comment) point at this customer?"""
        return bool(values.get("conversation") in self.conversations or values.get("ticket") in self.tickets
                    or values.get("customer") in self.pseudonyms)


class MailArchive(Protocol):
    """The e-mail channel's original mails, one set per conversation (mail/originals.py)."""

    def of_conversation(self, cid: str) -> list[tuple[str, bytes]]: ...

    def erase(self, cid: str) -> None: ...


class Privacy:
    def __init__(self, redis: aioredis.Redis, *, analytics_secret: bytes | str | None = None,
                 attachments: AttachmentStore | None = None, mail_originals: MailArchive | None = None):
        secret = analytics_secret if analytics_secret is not None else default_secret()
        self.redis = redis
        self.secret = secret.encode() if isinstance(secret, str) else secret
        # the files shoppers sent: exported with their conversation, erased with it
        self.attachments = attachments or AttachmentStore(redis, default_root())
        # the e-mail channel's original mails, one folder per conversation (mail/ingest.py)
        self.mail_originals = mail_originals

    async def _scan(self, pattern: str) -> list[str]:
        return [text(k) async for k in self.redis.scan_iter(match=pattern, count=SCAN_COUNT)]

    async def find(self, email: str) -> Subject:
        wanted = email.strip().lower()
        subject = Subject(wanted)
        for key in await self._scan(TICKET.format(tid="*")):
            if key.endswith(":log"):
                continue
            ticket = decoded(await self.redis.hgetall(key)) or {}
            if ticket.get("email", "").strip().lower() == wanted:
                subject.tickets.add(key.removeprefix(TICKET.format(tid="")))
                if ticket.get("conversation_id"):
                    subject.conversations.add(ticket["conversation_id"])
        for cid in list(subject.conversations):
            conv = decoded(await self.redis.hgetall(CONV.format(cid=cid))) or {}
            if conv.get("channel") and conv.get("sender"):
                identity = customer_id(conv["channel"], conv["sender"])
                subject.identities.add(identity)
                index = BY_CUSTOMER.format(channel=conv["channel"], sender=conv["sender"])
                others = await self.redis.zrange(index, 0, -1)
                subject.conversations.update(text(o) for o in others)
        for raw in {f"email:{wanted}", *subject.identities}:
            subject.pseudonyms.add(pseudonymize(raw, self.secret, "cust_"))
        return subject

    async def export(self, email: str) -> dict[str, Any]:
        """Everything held about the customer, as JSON-ready data (a subject access request)."""
        subject = await self.find(email)
        out: dict[str, Any] = {"email": subject.email, "exported_at": time.time(), "tickets": [],
                               "conversations": [], "survey_comments": [], "analytics_events": []}
        for tid in sorted(subject.tickets):
            raw_replies = await self.redis.lrange(TICKET_LOG.format(tid=tid), 0, -1)
            replies = [json.loads(text(r)) for r in raw_replies]
            ticket = decoded(await self.redis.hgetall(TICKET.format(tid=tid))) or {}
            out["tickets"].append({"id": tid, **ticket, "replies": replies})
        for cid in sorted(subject.conversations):
            conv = decoded(await self.redis.hgetall(CONV.format(cid=cid))) or {}
            log = [json.loads(text(m)) for m in await self.redis.lrange(f"{CONV.format(cid=cid)}:log", 0, -1)]
            files = []
            for attachment in await self.attachments.of_conversation(cid):
                content = await self.attachments.read(attachment)
                files.append({**export_entry(attachment), "content_base64":
                              base64.b64encode(content).decode() if content is not None else None})
            notes = [json.loads(text(n)) for n in await self.redis.lrange(NOTES.format(cid=cid), 0, -1)]
            out["conversations"].append({"id": cid, **conv, "messages": log, "attachments": files,
                                         "agent_notes": notes, "original_mails": self._originals(cid)})
        for raw in await self.redis.zrange(VERBATIMS, 0, -1):
            row = json.loads(text(raw))
            if subject.refers(row):
                out["survey_comments"].append(row)
        async for entry_id, fields in self._stream(STREAM):
            if subject.refers(fields):
                out["analytics_events"].append({"stream_id": entry_id, **fields})
        return out

    async def _stream(self, key: str, until_ms: int | None = None) -> Any:
        start = "-"
        while True:
            batch = await self.redis.xrange(key, min=start, max="+" if until_ms is None else f"({until_ms}",
                                            count=SCAN_COUNT)
            for entry_id, raw in batch:
                yield text(entry_id), {text(k): text(v) for k, v in raw.items()}
            if len(batch) < SCAN_COUNT:
                return
            start = "(" + text(batch[-1][0])

    async def erase(self, email: str) -> dict[str, int]:
        """Delete everything about the customer; returns what was removed, per kind."""
        subject = await self.find(email)
        files = sum([len(await self.attachments.of_conversation(cid)) for cid in subject.conversations])
        counts = {"tickets": len(subject.tickets), "conversations": len(subject.conversations),
                  "attachments": files, "keys": await self._forget(subject), "stream_entries": 0,
                  "survey_comments": 0}
        for stream in (STREAM, SURVEYS):
            doomed = [entry_id async for entry_id, fields in self._stream(stream) if subject.refers(fields)]
            if doomed:
                counts["stream_entries"] += int(await self.redis.xdel(stream, *doomed))
        comments = [raw for raw in await self.redis.zrange(VERBATIMS, 0, -1)
                    if subject.refers(json.loads(text(raw)))]
        if comments:
            counts["survey_comments"] = int(await self.redis.zrem(VERBATIMS, *comments))
        return counts

    def _originals(self, cid: str) -> list[dict[str, str]]:
        if self.mail_originals is None:
            return []
        return [{"file": name, "content_base64": base64.b64encode(data).decode()}
                for name, data in self.mail_originals.of_conversation(cid)]

    async def _forget(self, subject: Subject) -> int:
        """Delete the keys of the subject's conversations and tickets and their index entries,
        each by its exact name."""
        keys: set[str] = set()
        for cid in subject.conversations:
            keys.update(await self._conversation_keys(cid))
            await self.attachments.erase_conversation(cid)     # files and their metadata
            if self.mail_originals is not None:
                self.mail_originals.erase(cid)                  # the original mails
        if subject.conversations:   # e-mail threading: Message-IDs and mails read, by conversation
            for key in await self._scan(MAIL_MESSAGE_ID.format(digest="*")):
                if text(await self.redis.get(key) or b"") in subject.conversations:
                    keys.add(key)
            for key in await self._scan(MAIL_INBOUND.format(digest="*")):
                if text(await self.redis.hget(key, "cid") or b"") in subject.conversations:
                    keys.add(key)
        for tid in subject.tickets:
            keys.update(await self._ticket_keys(tid))
        keys.update(EVENT_SEEN.format(eid=eid) for eid in await self._event_ids(subject))
        for pseudonym in subject.pseudonyms:
            keys.update(await self._keys_under(LAST_CONTACT.format(customer=pseudonym, reason="")))
        for identity in subject.identities:
            channel, _, sender = identity.partition(":")
            keys.update({BY_SENDER.format(channel=channel, sender=sender),
                         BY_CUSTOMER.format(channel=channel, sender=sender)})
        if subject.tickets:
            for key in await self._scan(TICKET_IDEMPOTENCY.format(key="*")):
                if text(await self.redis.get(key) or b"") in subject.tickets:
                    keys.add(key)
        ordered = sorted(keys)
        pipe = self.redis.pipeline(transaction=False)
        for key in ordered:
            pipe.delete(key)
        for cid in subject.conversations:
            pipe.zrem(QUEUE, cid)
            pipe.zrem(CONVERSATIONS, cid)
            pipe.srem(PENDING_CONVERSATIONS, cid)
        for tid in subject.tickets:
            pipe.zrem(TICKETS_OPEN, tid)
            pipe.zrem(TICKETS_ALL, tid)
            pipe.zrem(SLA_PENDING, tid)
        for key in await self._scan(ACTIVE.format(agent="*")):
            for cid in subject.conversations:
                pipe.srem(key, cid)
        results = await pipe.execute()
        return sum(1 for r in results[:len(ordered)] if r)

    async def _conversation_keys(self, cid: str) -> set[str]:
        keys = {template.format(cid=cid) for template in CONVERSATION_KEYS}
        keys.update(OFFER.format(cid=cid, survey=survey) for survey in SURVEY_RANGES)
        for raw in await self.redis.lrange(LOG.format(cid=cid), 0, -1):
            keys.update(message_keys(_json(raw)))
        return keys

    async def _ticket_keys(self, tid: str) -> set[str]:
        keys = {template.format(tid=tid) for template in TICKET_KEYS}
        events = {f"ticket:{tid}", f"solved:{tid}"}              # tickets.py, desk.py
        for raw in await self.redis.lrange(TICKET_LOG.format(tid=tid), 0, -1):
            if mid := _json(raw).get("message_id"):
                events.add(f"ticket-reply:{mid}")
        return keys | {EVENT_SEEN.format(eid=eid) for eid in events}

    async def _event_ids(self, subject: Subject) -> set[str]:
        """Ids of the subject's analytics events, whose `seen:` markers name the conversation
        or ticket (`handoff:{cid}:{time}`, `faq:{cid}:...`) in ways only the stream records."""
        return {fields["id"] async for _, fields in self._stream(STREAM)
                if fields.get("id") and subject.refers(fields)}

    async def _keys_under(self, prefix: str) -> list[str]:
        """The keys `prefix` + one last segment, `prefix` taken literally."""
        found = await self._scan(glob_escape(prefix) + "*")
        return [k for k in found if k.startswith(prefix) and ":" not in k[len(prefix):]]

    async def purge(self, retention: RetentionConfig, now: float | None = None) -> dict[str, int]:
        """Delete what is older than the retention periods: conversations idle for longer,
        solved tickets, analytics events, survey comments. Day counters (anonymous) stay."""
        now = time.time() if now is None else now
        day = 86400
        old = Subject(email="")
        conv_cutoff = now - retention.conversations_days * day
        for key in await self._scan(CONV.format(cid="c-*")):
            if key.count(":") == 2:
                conv = decoded(await self.redis.hgetall(key)) or {}
                if conv and float(conv.get("updated_at") or conv.get("created_at") or now) < conv_cutoff:
                    old.conversations.add(key.rsplit(":", 1)[1])
        ticket_cutoff = now - retention.tickets_days * day
        for key in await self._scan(TICKET.format(tid="*")):
            if key.count(":") == 2:
                ticket = decoded(await self.redis.hgetall(key)) or {}
                stamp = _epoch(ticket.get("solved_at"))
                if ticket.get("status") == "solved" and stamp is not None and stamp < ticket_cutoff:
                    old.tickets.add(key.rsplit(":", 1)[1])
        counts = {"conversations": len(old.conversations), "tickets": len(old.tickets),
                  "keys": await self._forget(old) if old.conversations or old.tickets else 0}
        events_cutoff_ms = int((now - retention.analytics_events_days * day) * 1000)
        counts["stream_entries"] = int(await self.redis.xtrim(STREAM, minid=events_cutoff_ms)) + int(
            await self.redis.xtrim(SURVEYS, minid=events_cutoff_ms))
        comments_cutoff = now - retention.survey_comments_days * day
        counts["survey_comments"] = int(
            await self.redis.zremrangebyscore(VERBATIMS, "-inf", f"({comments_cutoff}"))
        old_events = self._stream(STREAM, until_ms=int(comments_cutoff * 1000))
        doomed = [entry_id async for entry_id, fields in old_events
                  if fields.get("verbatim")]                  # the same text inside the raw events
        if doomed:
            counts["stream_entries"] += int(await self.redis.xdel(STREAM, *doomed))
        return counts


def _json(raw: bytes | str) -> dict[str, Any]:
    try:
        value = json.loads(text(raw))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _epoch(value: str | None) -> float | None:
    """Epoch seconds from a stored timestamp (epoch or ISO 8601)."""
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        from datetime import datetime

        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            return None
