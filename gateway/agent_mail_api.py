"""The original of a received e-mail, for agents: the transcript keeps the new part of a mail
(quotes and signature stripped), and an agent sometimes needs the whole of it (the quoted thread,
the signature's phone number, every recipient).

- `GET /api/agent/conversations/{cid}/mails/{key}`: its headers, its whole body as plain text
  (an HTML part is converted to text by mail/parse.py: no markup of the sender's ever reaches the
  console), its attachments and what was not kept.
- `GET /api/agent/conversations/{cid}/mails/{key}/raw`: the .eml as received, a download
  (`Content-Disposition: attachment`, nosniff, a sandboxing CSP): never rendered by the browser.

A bearer token on both (401); `key` is the message's id in the transcript, and a mail is found
only under its own conversation (404 otherwise, whatever the key).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from mail.parse import InboundMail, MailLimits, parse

from .agent_api import Agent
from .attachments_api import FILE_CSP
from .deps import GatewayState, get_state
from .errors import error_response

router = APIRouter(prefix="/api/agent")
MAX_TEXT_CHARS = 200_000          # a 10 MB body stays a download; the console shows its start


async def _raw(state: GatewayState, cid: str, key: str) -> bytes | None:
    if state.mail_originals is None or await state.transcripts.conversation(cid) is None:
        return None
    return await asyncio.to_thread(state.mail_originals.read, cid, key)


def _as_json(mail: InboundMail, key: str, size: int) -> dict[str, Any]:
    when = datetime.fromtimestamp(mail.date, UTC).isoformat() if mail.date else None
    return {
        "message_id": key,
        "from": {"name": mail.sender_name, "address": mail.sender},
        "to": list(mail.to), "cc": list(mail.cc), "reply_to": mail.reply_to,
        "subject": mail.subject, "date": when,
        "text": mail.text[:MAX_TEXT_CHARS], "truncated": len(mail.text) > MAX_TEXT_CHARS,
        "attachments": [{"name": a.name, "type": a.content_type, "size": a.size} for a in mail.attachments],
        "dropped": [{"name": d.name, "type": d.content_type, "size": d.size, "reason": d.reason}
                    for d in mail.dropped],
        "size": size,
    }


@router.get("/conversations/{cid}/mails/{key}")
async def original(request: Request, cid: str, key: str, agent: Agent) -> JSONResponse:
    """The whole received mail as text, with its headers and attachments."""
    state = get_state(request)
    raw = await _raw(state, cid, key)
    if raw is None:
        return error_response(404, "unknown mail", key="unknown_mail")
    limits = state.mail_ingest.limits if state.mail_ingest is not None else MailLimits()
    mail = await asyncio.to_thread(parse, raw, limits)
    return JSONResponse(_as_json(mail, key, len(raw)))


@router.get("/conversations/{cid}/mails/{key}/raw")
async def original_raw(request: Request, cid: str, key: str, agent: Agent) -> Response:
    """The .eml exactly as received (for a mail client, or evidence): a download only."""
    raw = await _raw(get_state(request), cid, key)
    if raw is None:
        return error_response(404, "unknown mail", key="unknown_mail")
    return Response(raw, media_type="message/rfc822", headers={
        "Content-Disposition": f'attachment; filename="{key}.eml"', "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": FILE_CSP, "Cache-Control": "private, no-store",
        "Cross-Origin-Resource-Policy": "same-origin"})
