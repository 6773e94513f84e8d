"""Files in the chat: the widget uploads one (`POST /api/chat/conversations/{cid}/attachments`,
multipart, field `file`), the shopper sees it back through the same conversation
(`GET /api/chat/conversations/{cid}/attachments/{aid}`), agents through their bearer token
(`GET /api/agent/attachments/{aid}`).

The widget's calls are authorised as all of its calls are: by the conversation's unguessable
id, and a file is served only under the conversation it belongs to (404 otherwise: no oracle
for ids of other conversations). The console fetches files with its bearer token and shows
them from blob: URLs: an <img src> cannot carry the token, and a token or signed link in a URL
ends up in logs, histories and Referer headers (docs/decisions.md, issue 19).

What is stored, and why a file is refused (size, type by content, image decoding, per
conversation limits), is handoff/attachments.py's business; each refusal is a 4xx with a
stable `error` code the widget turns into a sentence.
"""

from __future__ import annotations

import logging
import re
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import AfterValidator

from conversation.message import FileInfo, Message
from handoff.attachments import IMAGE_TYPES, Attachment, AttachmentRefused
from kit import texts
from kit.keys import SEEN

from .agent_api import Agent
from .channels.web import (
    MAX_ID_CHARS,
    TOO_MANY_MESSAGES,
    ChatError,
    _chat_error,
    client_of,
    plain_id,
    seen_from,
    web_conversation,
)
from .deps import get_state
from .errors import error_response

log = logging.getLogger("gateway.attachments")
router = APIRouter()
UPLOAD_PATH = re.compile(r"^/api/chat/conversations/[^/]+/attachments$")
MULTIPART_OVERHEAD = 16 * 1024          # the form's boundaries and part headers around the file
# a file is a document of its own, never a page: no script, no plugin, no framing, no fetching
FILE_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox; frame-ancestors 'none'"

UploadId = Annotated[str, Form(max_length=MAX_ID_CHARS), AfterValidator(plain_id)]
UploadLang = Annotated[str, Form(max_length=5)]


def body_limit(max_file_bytes: int) -> int:
    """The upload route's body limit (gateway/limits.py): one file and its multipart envelope."""
    return max_file_bytes + MULTIPART_OVERHEAD


def file_response(attachment: Attachment, content: bytes, *, cross_origin: bool) -> Response:
    """The file with the type read from its bytes, shown inline only when it is an image,
    under a sandboxing CSP; never cached (an erased file must not live on in a cache)."""
    image = attachment.type in IMAGE_TYPES
    fallback = re.sub(r"[^A-Za-z0-9._-]", "_", attachment.name) or "file"
    disposition = f"{'inline' if image else 'attachment'}; filename=\"{fallback}\"; " \
                  f"filename*=UTF-8''{quote(attachment.name, safe='')}"
    return Response(content, media_type=attachment.type, headers={
        "Content-Disposition": disposition, "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": FILE_CSP, "Cache-Control": "private, no-store",
        # the widget shows the shopper's own files on the shop's pages (another origin)
        "Cross-Origin-Resource-Policy": "cross-origin" if cross_origin else "same-origin"})


@router.post("/api/chat/conversations/{cid}/attachments", status_code=202)
async def upload(request: Request, cid: str, file: Annotated[UploadFile, File()],
                 message_id: UploadId = "", lang: UploadLang = "") -> JSONResponse:
    """One image (JPEG, PNG, WebP, GIF) or PDF sent by the shopper, as a message of the
    conversation: the agent sees it live, like a text."""
    state = get_state(request)
    try:
        conv = await web_conversation(state, cid)
        client = client_of(request, state)
        await seen_from(state, conv, client)
        mid = f"web:{cid}:{message_id}" if message_id else ""
        if mid and await state.redis.exists(SEEN.format(channel="web", mid=mid)):
            return JSONResponse({"message_id": message_id, "duplicate": True}, status_code=202)
        wait = await state.rate_limit.message(conv["sender"], client)   # a file counts as a message
        if wait:
            raise ChatError(429, TOO_MANY_MESSAGES, retry_after_s=wait)
    except ChatError as exc:
        return _chat_error(exc)
    limits = state.attachments.limits
    data = await file.read(limits.max_bytes + 1)
    try:
        attachment = await state.attachments.save(cid, data, file.filename or "", by="shopper")
    except AttachmentRefused as exc:
        return error_response(exc.status, exc.message, code=exc.code, limit=_limit_of(exc.code, limits))
    message = Message(channel="web", sender=conv["sender"], conversation_id=cid, text="",
                      files=(FileInfo(**attachment.public()),), lang=lang if lang in texts.LANGS else "",
                      **({"message_id": mid} if mid else {}))
    stored = await state.inbox.submit(message)
    return JSONResponse({"message_id": message_id or message.message_id, "duplicate": not stored,
                         "file": attachment.public()}, status_code=202)


def _limit_of(code: str, limits: object) -> int | None:
    """The number behind a refusal, for the widget's sentence."""
    field = {"too_big": "max_bytes", "too_many": "max_count", "quota": "max_total_bytes",
             "too_many_pixels": "max_pixels"}.get(code)
    return getattr(limits, field) if field else None


@router.get("/api/chat/conversations/{cid}/attachments/{aid}")
async def shopper_file(request: Request, cid: str, aid: str) -> Response:
    """A file of this conversation, for its shopper (the widget)."""
    state = get_state(request)
    try:
        await web_conversation(state, cid)
    except ChatError as exc:
        return _chat_error(exc)
    return await _serve(request, aid, cid=cid, cross_origin=True)


@router.get("/api/agent/attachments/{aid}")
async def agent_file(request: Request, aid: str, agent: Agent) -> Response:
    """Any file, for agents (they may read any transcript too); the console shows it from a
    blob: URL made from this response."""
    return await _serve(request, aid, cid=None, cross_origin=False)


async def _serve(request: Request, aid: str, *, cid: str | None, cross_origin: bool) -> Response:
    state = get_state(request)
    attachment = await state.attachments.get(aid)
    if attachment is None or (cid is not None and attachment.conversation_id != cid):
        return error_response(404, "unknown file")
    content = await state.attachments.read(attachment)
    if content is None:
        log.warning("attachment metadata without its file", extra={"attachment": aid})
        return error_response(404, "unknown file")
    return file_response(attachment, content, cross_origin=cross_origin)

