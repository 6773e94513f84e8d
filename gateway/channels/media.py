"""Files shoppers send on Messenger and WhatsApp, fetched and kept like the widget's uploads.

The webhook parsers leave remote references in `Message.attachments`: Messenger's CDN URLs
(`attachments[].payload.url`, no token needed) and, for WhatsApp, `whatsapp-media:<type>:<id>:<name>`
(a media id: `GET /<version>/<media-id>` with the bearer token answers a short-lived `url`, which
is downloaded with the same token). Before the message is submitted, each reference is fetched
(at most the per-file limit, streamed), checked and stored by handoff/attachments.py, and the
message carries `files` instead. A file refused (type, size, the conversation's limits) or
that cannot be fetched gets the shopper a polite reply in their language; the message itself
(a caption, the other files) still goes through. A redelivered webhook is neither fetched
nor answered twice: the message id is already known.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import replace
from typing import Any
from urllib.parse import unquote, urlsplit

from conversation.message import FileInfo, Message
from conversation.transcript import SEEN_TTL_S
from handoff.attachments import AttachmentRefused
from kit import texts
from kit.keys import SEEN

from .graph import GraphError, MediaTooLarge
from .meta import as_str

log = logging.getLogger("gateway.channels.media")

MAX_FILES_PER_MESSAGE = 5
WHATSAPP_PREFIX = "whatsapp-media:"
WHATSAPP_KINDS = ("image", "document", "sticker", "audio", "video")
KEPT_KINDS = ("image", "document", "sticker")          # audio and video are refused without a download
REFUSAL_TEXTS = {"bad_type": "file_refused_type", "too_big": "file_refused_size",
                 "too_many_pixels": "file_refused_size", "too_many": "file_refused_limit",
                 "quota": "file_refused_limit"}
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def whatsapp_ref(kind: str, media_id: str, filename: str = "") -> str:
    return f"{WHATSAPP_PREFIX}{kind}:{media_id}:{filename}"


def _name_from_url(url: str) -> str:
    try:
        return unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    except ValueError:
        return ""


async def fetch(state: Any, channel: str, ref: str, max_bytes: int) -> tuple[bytes, str]:
    """(content, file name) of one remote reference; AttachmentRefused or GraphError."""
    graph, meta = state.graph, state.meta
    if channel == "whatsapp" and ref.startswith(WHATSAPP_PREFIX):
        kind, media_id, filename = (ref[len(WHATSAPP_PREFIX):].split(":", 2) + ["", ""])[:3]
        if kind not in KEPT_KINDS:
            raise AttachmentRefused(415, "bad_type", f"WhatsApp {kind} files are not kept")
        info = await graph.get(media_id, token=meta.whatsapp_token)
        declared = as_str(info.get("file_size"))
        if declared.isdigit() and int(declared) > max_bytes:
            raise AttachmentRefused(413, "too_big", f"files are limited to {max_bytes} bytes")
        content, _ = await graph.download(as_str(info.get("url")), token=meta.whatsapp_token,
                                          max_bytes=max_bytes)
        expected = as_str(info.get("sha256")).lower()
        if _HEX64.match(expected) and hashlib.sha256(content).hexdigest() != expected:
            raise GraphError("media checksum mismatch", error_type="MediaChecksum")
        return content, filename or kind
    if channel == "messenger" and ref.startswith(("https://", "http://")):
        content, kind = await graph.download(ref, token=None, max_bytes=max_bytes)
        if kind.split("/", 1)[0] in ("video", "audio"):
            raise AttachmentRefused(415, "bad_type", "videos and voice messages are not kept")
        return content, _name_from_url(ref)
    raise AttachmentRefused(415, "bad_type", "unknown media reference")


async def resolve(state: Any, message: Message) -> tuple[Message | None, str]:
    """The message with its remote media fetched and stored as `files`, and the text key of the
    first refusal ("" if none). None instead of a message when nothing is left to submit (only
    refused files): the message id is then marked seen here, so a redelivery stays silent."""
    store = getattr(state, "attachments", None)
    if not message.attachments or store is None or getattr(state, "graph", None) is None:
        return message, ""
    seen = SEEN.format(channel=message.channel, mid=message.message_id)
    if await state.redis.exists(seen):
        return replace(message, attachments=()), ""       # a redelivery: the inbox dedupes it
    cid = message.conversation_id or await state.transcripts.open(message.channel, message.sender)
    files: list[FileInfo] = []
    refusal = ""
    refs = message.attachments
    if len(refs) > MAX_FILES_PER_MESSAGE:
        refs, refusal = refs[:MAX_FILES_PER_MESSAGE], "file_refused_limit"
    for ref in refs:
        try:
            content, name = await fetch(state, message.channel, ref, store.limits.max_bytes)
            stored = await store.save(cid, content, name, by=message.channel)
            files.append(FileInfo(**stored.public()))
        except MediaTooLarge:
            refusal = refusal or "file_refused_size"
        except AttachmentRefused as exc:
            refusal = refusal or REFUSAL_TEXTS.get(exc.code, "file_failed")
        except GraphError as exc:
            log.warning("could not fetch a %s media file: %s", message.channel, exc)
            refusal = refusal or "file_failed"
    resolved = replace(message, conversation_id=cid, attachments=(), files=tuple(files))
    if not resolved.text.strip() and not files:
        claimed = await state.redis.set(seen, "1", nx=True, ex=SEEN_TTL_S)
        if claimed:   # the shopper did write: WhatsApp's 24-hour window is open for the reply
            await state.transcripts.update(cid, last_inbound_at=message.timestamp)
        return None, refusal if claimed else ""
    return resolved, refusal


async def apologise(state: Any, message: Message, key: str) -> None:
    """The polite reply to a refused file, in the conversation's language (best effort)."""
    try:
        cid = message.conversation_id or await state.transcripts.open(message.channel, message.sender)
        conv = await state.transcripts.require(cid)
        lang = conv.get("lang") or message.lang or "fr"
        mb = str(max(1, state.attachments.limits.max_bytes // (1024 * 1024)))
        text = texts.text(lang, f"conversation.{key}", mb=mb)
        await state.router.send(Message(channel=message.channel, sender=message.sender, conversation_id=cid,
                                        text=text, role="bot", lang=lang))
    except Exception as exc:   # noqa: BLE001  (the shopper's message is stored: the reply is a courtesy)
        log.warning("could not tell the shopper a file was refused: %s", exc)


async def submit_all(state: Any, messages: list[Message]) -> None:
    """Fetch each message's media, submit it, then apologise for refused files; raises what the
    inbox raises (the webhook answers 503 and Meta retries)."""
    for message in messages:
        resolved, refusal = await resolve(state, message)
        stored = await state.inbox.submit(resolved) if resolved is not None else True
        if refusal and stored:
            await apologise(state, resolved or message, refusal)
