"""The e-mail channel's `Sender`: an agent's answer in the console leaves as a threaded e-mail.

The reply answers the thread's newest mail (In-Reply-To) with the chain before it (References),
carries our Message-ID (which names the conversation) and the signed reply address, so the
shopper's answer finds its conversation from any mail client (mail/threads.py). The subject keeps
the shopper's own with the ticket tag, and the thread's ticket records the answer (it then waits
for the shopper; first response time and SLA count from it). Only agents' messages are mailed:
the automatic reply is sent once by mail/ingest.py, and the bot's chat lines (surveys, "an
advisor joined") have no place in a mailbox.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from conversation.message import Message
from conversation.ports import DeliveryRefused
from conversation.transcript import Transcripts
from handoff.mailer import MailDisabled, Mailer, Thread
from kit import texts
from mail.ingest import CHANNEL, MAX_THREAD_IDS, subject_line
from mail.threads import ThreadKeys

log = logging.getLogger("mail.outbound")


class EmailSender:
    channel = CHANNEL

    def __init__(self, mailer: Mailer, keys: ThreadKeys, transcripts: Transcripts, *,
                 survey_links: Any = None, shop_name: str = "",
                 on_mailed: Callable[[str, str, str, str], Awaitable[None]] | None = None) -> None:
        self.mailer = mailer
        self.keys = keys
        self.transcripts = transcripts
        self.survey_links = survey_links    # handoff.survey_links.SurveyLinks: the NPS link in replies
        self.shop_name = shop_name
        # (ticket, agent, text, Message-ID): the thread's ticket records the answer (Tickets.record_reply)
        self.on_mailed = on_mailed

    async def deliver(self, message: Message, *, last_inbound_at: float | None) -> None:
        if message.role != "agent":
            return
        cid = message.conversation_id
        conv = await self.transcripts.require(cid)
        chain = json.loads(conv.get("mail_thread") or "[]")
        tid, lang = conv.get("ticket", ""), message.lang or conv.get("lang", "")
        body = message.text
        if self.survey_links is not None and tid:
            url = self.survey_links.url("ticket", tid, lang)
            if url:
                body += "\n\n--\n" + texts.text(lang, "tickets.nps_footer", shop=self.shop_name, url=url)
        thread = Thread(message_id=self.keys.message_id(cid), in_reply_to=chain[-1] if chain else "",
                        references=tuple(chain))
        try:
            sent = await self.mailer.send(conv["sender"], subject_line(conv.get("subject", ""), tid), body,
                                          reply_to=self.keys.reply_address(cid), thread=thread)
        except MailDisabled as exc:
            raise DeliveryRefused("mail_disabled", key="mail_disabled") from exc
        await self.transcripts.update(cid, mail_thread=json.dumps([*chain, sent][-MAX_THREAD_IDS:]))
        log.info("agent reply mailed", extra={"conversation": cid, "message_id": sent})
        if tid and self.on_mailed is not None:
            await self.on_mailed(tid, message.author, message.text, sent)
