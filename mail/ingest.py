"""One incoming e-mail into the product: its conversation, its ticket, its one automatic reply.

Every mail arrives as raw RFC 822 bytes (IMAP reader or provider webhook) and may arrive twice
(a reader restarted before its cursor moved, a webhook retried): each step is idempotent, keyed
by the mail's Message-ID in a small Redis hash, so a second pass finishes what a crash left
undone and repeats nothing (the transcript also refuses the same message twice).

- A mail that continues a thread (mail/threads.py) joins its conversation and goes back to the
  agents' queue if nobody holds it; no automatic reply.
- A new mail starts a conversation and a ticket (contact reason from the retriever, business
  hours deadline), and gets one automatic reply unless mail/rules.py forbids it: the FAQ answer
  when the retriever is sure, up to 3 articles when it hesitates, and always the honest promise.
- Attachments are kept like the widget's (handoff/attachments.py: sniffed, decoded, limited,
  covered by GDPR export and erase); what is not kept is listed in the transcript for agents.
- The whole original stays on disk for agents (mail/originals.py), covered by export and erase.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import redis.asyncio as aioredis

from conversation.message import FileInfo, Message
from conversation.transcript import Transcripts
from handoff.attachments import AttachmentRefused, AttachmentStore
from handoff.desk import HandoffRequest, HelpDesk
from handoff.mailer import Mailer, MailError, Thread
from kit import texts
from kit.keys import MAIL_INBOUND
from kit.redis import decoded
from mail.originals import MailOriginals, message_key
from mail.parse import InboundMail, MailLimits, MailUnreadable, parse
from mail.rules import auto_reply_refusal
from mail.threads import MessageIds, ThreadKeys, addr_spec, find_thread

log = logging.getLogger("mail.ingest")
INBOUND_TTL_S = 30 * 86400
MAX_THREAD_IDS = 20
MAX_SUGGESTIONS = 3
CHANNEL = "email"


class Cap(Protocol):
    async def allow(self, sender: str, now: float) -> bool: ...


@dataclass(frozen=True)
class Outcome:
    """What became of a mail (tests, logs, the webhook's answer)."""

    status: str                  # new | follow-up | duplicate | quarantined
    conversation_id: str = ""
    ticket_id: str = ""
    auto_reply: str = ""         # answer | suggest | promise | "" (none)
    refused: str = ""            # why no automatic reply (rules, daily cap, e-mail off)


def subject_line(subject: str, tid: str) -> str:
    """`Re: <their subject> [#T-000042]`, once each whatever the thread's history."""
    core = subject.strip()
    while core.lower().startswith(("re:", "tr:", "fw:", "fwd:", "aw:")):
        core = core.split(":", 1)[1].strip()
    core = core.replace(f"[#{tid}]", "").strip() if tid else core
    return f"Re: {core} [#{tid}]".strip() if tid else f"Re: {core}"


class MailIngest:
    def __init__(self, *, redis: aioredis.Redis, transcripts: Transcripts, router: Any, desk: HelpDesk,
                 tickets: Any, search: Callable[[str, str], Awaitable[Any]], attachments: AttachmentStore,
                 keys: ThreadKeys, mailer: Mailer, cap: Cap, detect_lang: Callable[[str], str],
                 quarantine: Path, originals: MailOriginals, limits: MailLimits | None = None,
                 help_url: Callable[[str, str], str] | None = None,
                 own_addresses: Sequence[str] = ()) -> None:
        self.redis = redis
        self.transcripts = transcripts
        self.router = router                 # conversation.router.ConversationRouter
        self.desk = desk
        self.tickets = tickets               # handoff.tickets.Tickets
        self.search = search                 # (text, lang) -> the retriever's SearchResult, None if not ready
        self.attachments = attachments
        self.keys = keys
        self.ids = MessageIds(redis)
        self.mailer = mailer
        self.cap = cap
        self.detect_lang = detect_lang
        self.quarantine_dir = quarantine
        self.originals = originals
        self.limits = limits or MailLimits()
        self.help_url = help_url             # (lang, entry id) -> the help centre's article URL
        self.own = (keys.address, *own_addresses)

    # -- entry point -------------------------------------------------------------------

    async def receive(self, raw: bytes, *, source: str = "imap") -> Outcome:
        try:
            mail = parse(raw, self.limits)
        except MailUnreadable as exc:
            return self.quarantine(raw, str(exc), source)
        if not mail.sender:
            return self.quarantine(raw, "no usable sender address", source)
        for problem in mail.problems:
            log.info("mail problem", extra={"message_id": mail.message_id, "problem": problem})
        state_key = MAIL_INBOUND.format(digest=hashlib.sha256(mail.message_id.encode()).hexdigest()[:40])
        state = decoded(await self.redis.hgetall(state_key)) or {}
        if state.get("done"):
            return Outcome("duplicate", state.get("cid", ""), state.get("ticket", ""))
        cid, new = await self._conversation(mail, state, state_key)
        await self.ids.remember(mail.message_id, cid)
        self.originals.keep(cid, mail.message_id, raw)
        files, refused = await self._files(cid, mail, state, state_key)
        await self._thread_headers(cid, mail)
        conv = await self.transcripts.require(cid)
        lang = conv.get("lang") or self.detect_lang(mail.reply_text or mail.text) or "fr"
        stored = await self.router.file_for_agents(Message(
            channel=CHANNEL, sender=mail.sender, conversation_id=cid, text=self._transcript_text(mail),
            files=files, lang=lang, message_id=message_key(mail.message_id)))   # arrival time: the
        # Date header is the sender's clock, and response times count from when the mail came in
        if stored and (refused or mail.dropped):
            await self.transcripts.system(cid, "mail_attachments_dropped", json.dumps(
                [*({"name": d.name, "type": d.content_type, "size": d.size, "reason": d.reason}
                   for d in mail.dropped), *refused], ensure_ascii=False))
        outcome = Outcome("new" if new else "follow-up", cid)
        if new:
            outcome = await self._new_thread(mail, cid, lang, state, state_key)
        else:
            await self._back_to_agents(cid, lang, conv.get("subject", "") or mail.subject)
        await self.redis.hset(state_key, "done", "1")
        log.info("mail taken in", extra={"conversation": cid, "status": outcome.status, "source": source,
                                         "auto_reply": outcome.auto_reply, "refused": outcome.refused})
        return outcome

    def quarantine(self, raw: bytes, why: str, source: str) -> Outcome:
        """Keep what could not be read (nothing is lost), say why once in the log."""
        self.quarantine_dir.mkdir(parents=True, exist_ok=True)
        name = f"{int(time.time())}-{hashlib.sha256(raw[:1_000_000]).hexdigest()[:16]}.eml"
        (self.quarantine_dir / name).write_bytes(raw)
        log.warning("mail quarantined", extra={"file": name, "reason": why, "source": source})
        return Outcome("quarantined", refused=why)

    # -- steps ---------------------------------------------------------------------------

    async def _conversation(self, mail: InboundMail, state: dict[str, str],
                            state_key: str) -> tuple[str, bool]:
        if state.get("cid"):
            return state["cid"], state.get("new") == "1"
        match = await find_thread(sender=mail.sender, recipients=[*mail.to, *mail.cc],
                                  in_reply_to=mail.in_reply_to, references=mail.references,
                                  subject=mail.subject, keys=self.keys, ids=self.ids,
                                  customers=self._customers, ticket_conversation=self._ticket_conversation)
        if match is not None:
            cid, new = match.cid, False
        else:
            cid = await self.transcripts.start(CHANNEL, mail.sender, subject=mail.subject[:250],
                                               sender_name=mail.sender_name[:120])
            new = True
        # two readers of the same mail (a retried webhook) agree on the first conversation
        if not await self.redis.hsetnx(state_key, "cid", cid):
            first = decoded(await self.redis.hgetall(state_key)) or {}
            return first["cid"], first.get("new") == "1"
        await self.redis.hset(state_key, "new", "1" if new else "0")
        await self.redis.expire(state_key, INBOUND_TTL_S)
        return cid, new

    async def _customers(self, cid: str) -> set[str]:
        conv = await self.transcripts.conversation(cid)
        if not conv:
            return set()
        found = {conv["sender"].lower()} if conv.get("channel") == CHANNEL else set()
        if conv.get("ticket"):
            ticket = await self.desk.ticket(conv["ticket"]) or {}
            if ticket.get("email"):
                found.add(addr_spec(ticket["email"]).lower())
        return found or {"-"}     # exists, but nobody's address proves a quoted id or a tag

    async def _ticket_conversation(self, tid: str) -> str | None:
        ticket = await self.desk.ticket(tid)
        return ticket.get("conversation_id") if ticket else None

    async def _files(self, cid: str, mail: InboundMail, state: dict[str, str],
                     state_key: str) -> tuple[tuple[FileInfo, ...], list[dict[str, Any]]]:
        if "files" in state:   # a second pass: the files were stored by the first
            saved = json.loads(state["files"])
            kept = tuple(f for f in map(FileInfo.from_dict, saved["kept"]) if f is not None)
            return kept, saved["refused"]
        kept, refused = [], []
        for att in mail.attachments:
            try:
                saved = await self.attachments.save(cid, att.data, att.name, by=CHANNEL)
            except AttachmentRefused as exc:
                refused.append({"name": att.name, "type": att.content_type, "size": att.size,
                                "reason": exc.code})
                continue
            kept.append(FileInfo(id=saved.id, name=saved.name, type=saved.type, size=saved.size,
                                 width=saved.width, height=saved.height))
        await self.redis.hset(state_key, "files", json.dumps(
            {"kept": [asdict(f) for f in kept], "refused": refused}, ensure_ascii=False))
        return tuple(kept), refused

    async def _thread_headers(self, cid: str, mail: InboundMail) -> None:
        conv = await self.transcripts.require(cid)
        chain = json.loads(conv.get("mail_thread") or "[]")
        if mail.message_id not in chain:
            chain = [*chain, mail.message_id][-MAX_THREAD_IDS:]
            await self.transcripts.update(cid, mail_thread=json.dumps(chain))

    @staticmethod
    def _transcript_text(mail: InboundMail) -> str:
        body = (mail.reply_text or mail.text).strip()
        return f"{mail.subject}\n\n{body}".strip() if mail.subject else body

    async def _new_thread(self, mail: InboundMail, cid: str, lang: str, state: dict[str, str],
                          state_key: str) -> Outcome:
        question = f"{mail.subject}\n{mail.reply_text or mail.text}".strip()
        opened = await self.tickets.open_ticket(
            conversation_id=cid, channel=CHANNEL, email=mail.sender, order_number="",
            message=question[:4000], lang=lang, reason="", source="email",
            request_key=f"mail:{mail.message_id}")
        tid = opened["ticket_id"]
        await self.transcripts.update(cid, ticket=tid)
        if not state.get("queued"):   # once: a second pass must not take it back from an agent
            ticket = await self.desk.ticket(tid) or {}
            await self.desk.request_handoff(HandoffRequest(
                conversation_id=cid, lang=lang, reason=ticket.get("reason", ""), summary=mail.subject[:200],
                trigger="email", channel=CHANNEL))
            await self.redis.hset(state_key, mapping={"ticket": tid, "queued": "1"})
            await self.router.event("queued", cid, await self.transcripts.require(cid))
        if state.get("replied") == "1":
            return Outcome("new", cid, tid, auto_reply=state.get("band", ""))
        refusal = auto_reply_refusal(mail, own_addresses=self.own)
        if refusal is None and not self.mailer.enabled:
            refusal = "mail_disabled"
        if refusal is None and not await self.cap.allow(mail.sender, time.time()):
            refusal = "daily_cap"
        if refusal is None:
            try:
                band = await self._auto_reply(mail, cid, lang, tid, opened)
            except MailError as exc:   # the ticket stands and agents see why no reply went out
                log.error("automatic reply failed", extra={"conversation": cid, "error": str(exc)})
                refusal = "smtp_failed"
            except ValueError:         # an address the parser read but SMTP would refuse
                refusal = "bad_address"
            else:
                await self.redis.hset(state_key, mapping={"replied": "1", "band": band})
                return Outcome("new", cid, tid, auto_reply=band)
        await self.transcripts.system(cid, "mail_auto_reply_skipped", refusal)
        return Outcome("new", cid, tid, refused=refusal)

    async def _auto_reply(self, mail: InboundMail, cid: str, lang: str, tid: str,
                          opened: dict[str, Any]) -> str:
        query = (mail.reply_text or mail.text or mail.subject)[:1000]
        result = await self.search(f"{mail.subject} {query}".strip(), lang)
        band = getattr(result, "band", "none")
        hits = list(getattr(result, "hits", []) or [])
        say = lambda key, **f: texts.text(lang, f"mail.{key}", **f)  # noqa: E731
        parts = [say("greeting")]
        if band == "answer" and hits:
            parts += [say("answer_intro"), hits[0].answer.strip(), say("answer_not_solved")]
        elif band == "suggest" and hits:
            lines = [f"- {h.title}" + (f" : {self.help_url(h.lang, h.id)}" if self.help_url else "")
                     for h in hits[:MAX_SUGGESTIONS]]
            parts += [say("suggest_intro"), "\n".join(lines)]
        else:
            band = "promise"
        parts += [say("promise", tid=tid, promise=opened.get("promise", "")), say("signature")]
        body = "\n\n".join(p for p in parts if p)
        thread = Thread(message_id=self.keys.message_id(cid, seed=f"auto:{mail.message_id}"),
                        in_reply_to=mail.message_id, references=(*mail.references, mail.message_id),
                        auto_submitted=True)
        sent = await self.mailer.send(mail.sender, subject_line(mail.subject, tid), body,
                                      reply_to=self.keys.reply_address(cid), thread=thread)
        conv = await self.transcripts.require(cid)
        chain = json.loads(conv.get("mail_thread") or "[]")
        await self.transcripts.update(cid, mail_thread=json.dumps([*chain, sent][-MAX_THREAD_IDS:]))
        await self.router.send(Message(channel=CHANNEL, sender=mail.sender, conversation_id=cid, text=body,
                                       role="bot", lang=lang, message_id=message_key(sent)))
        return band

    async def _back_to_agents(self, cid: str, lang: str, subject: str) -> None:
        """A reply in a thread nobody holds goes back in the queue (it is a new question), and
        its ticket, answered or solved, is open again: the customer is waiting once more."""
        conv = await self.transcripts.require(cid)
        ticket = await self.desk.ticket(conv["ticket"]) if conv.get("ticket") else None
        if ticket and ticket.get("status") in ("pending", "solved"):
            await self.desk.set_ticket_status(ticket["id"], "open", CHANNEL)
        if conv.get("state") not in ("queued", "agent"):
            await self.desk.request_handoff(HandoffRequest(
                conversation_id=cid, lang=lang, reason=conv.get("reason", ""), summary=subject[:200],
                trigger="email", channel=CHANNEL))
            await self.router.event("queued", cid, await self.transcripts.require(cid))


Handler = Callable[[bytes], Awaitable[Outcome]]
