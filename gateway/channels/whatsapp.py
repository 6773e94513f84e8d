"""WhatsApp Cloud API channel: the webhook (inbound) and the messages endpoint sender (outbound).

Inbound: `GET /webhooks/whatsapp` answers the subscription handshake; `POST` checks the size,
the `X-Hub-Signature-256` signature (nothing unsigned is parsed), then reads
`entry[].changes[].value`: `messages[]` become `Message`s for the inbox (text, the id of an
interactive button or list reply, the payload of a template quick-reply button), `statuses[]`
become `inbox.record_status(...)`. Changes for another phone number of the same business
account are ignored: we could not answer from the right number. Media (image, document,
sticker, audio, video) become a media reference with their caption as text: the media id is
resolved and downloaded with the token, checked and kept before the message is submitted
(channels/media.py; audio and video are refused politely). Locations, reactions and other
types are skipped (logged). As for Messenger, a malformed single item is skipped, a
malformed envelope gets 422, and texts over MAX_TEXT_CHARS are submitted cut (and logged).

Outbound: WhatsApp only lets a business message a shopper freely within 24 hours of the
shopper's last message (the customer-service window); outside it, `DeliveryRefused` is raised
without calling the API. Buttons become reply buttons (1-3) or a list (4-10 rows).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from conversation.message import MAX_TEXT_CHARS, Button, Message, clean_text
from conversation.ports import DeliveryRefused

from ..deps import get_state
from ..errors import error_response
from .graph import GraphClient, GraphError
from .media import WHATSAPP_KINDS, submit_all, whatsapp_ref
from .meta import (
    MetaSettings,
    WebhookRejected,
    as_dict,
    as_list,
    as_str,
    as_timestamp,
    choose_prompt,
    clip,
    fresh,
    handshake,
    outbound_text,
    signed_webhook,
    split_text,
    within_window,
)  # fmt: skip

log = logging.getLogger("gateway.channels.whatsapp")

CHANNEL = "whatsapp"
TEXT_LIMIT = 4096  # text.body
INTERACTIVE_BODY_LIMIT = 1024
MAX_REPLY_BUTTONS = 3
REPLY_TITLE_LIMIT = 20
REPLY_ID_LIMIT = 256
MAX_LIST_ROWS = 10
ROW_TITLE_LIMIT = 24
ROW_ID_LIMIT = 200
LIST_BUTTON_LABEL = "Options"  # the list's opening button (<= 20 chars), same word in fr and en
# Graph's "more than 24 hours since the customer last replied" error.
WINDOW_ERROR_CODES = {131047}

router = APIRouter()


# -- inbound ------------------------------------------------------------------------------------


@router.get("/webhooks/whatsapp", include_in_schema=False)
async def whatsapp_handshake(request: Request) -> Response:
    """Meta's subscription check: echo `hub.challenge` only with our verify token."""
    status, text = handshake(request, get_state(request).meta, CHANNEL)
    return PlainTextResponse(text) if status == 200 else error_response(status, text)


@router.post("/webhooks/whatsapp", include_in_schema=False)
async def whatsapp_webhook(request: Request) -> Response:
    """Verify, normalise and hand everything to the inbox; 200 once all of it is stored."""
    state = get_state(request)
    try:
        settings, payload = await signed_webhook(request, state.meta, state.inbox, CHANNEL)
        messages, statuses = parse_changes(payload, settings.whatsapp_phone_number_id)
        messages = fresh(messages)
    except WebhookRejected as exc:
        return error_response(exc.status, exc.message)
    try:
        await submit_all(state, messages)   # media fetched and kept first (channels/media.py)
        for message_id, status, timestamp in statuses:
            await state.inbox.record_status(CHANNEL, message_id, status, timestamp)
    except Exception:
        log.exception("could not store a WhatsApp webhook")
        return error_response(503, "Could not store the webhook; Meta will retry.")
    return JSONResponse({"status": "ok"})


Status = tuple[str, str, float]  # (our sent message's wamid, sent|delivered|read|failed, epoch seconds)


def parse_changes(payload: Any, phone_number_id: str = "") -> tuple[list[Message], list[Status]]:
    """Messages and statuses in a WhatsApp webhook body; WebhookRejected(422) on a bad envelope.
    `phone_number_id`: when set, changes addressed to another number are ignored."""
    if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account":
        raise WebhookRejected(
            422, 'Expected a WhatsApp webhook: {"object": "whatsapp_business_account", "entry": [...]}.'
        )
    entries = payload.get("entry")
    if not isinstance(entries, list):
        raise WebhookRejected(422, 'Expected a WhatsApp webhook: "entry" must be a list.')
    messages: list[Message] = []
    statuses: list[Status] = []
    for entry in entries:
        for change in as_list(as_dict(entry).get("changes")):
            value = as_dict(as_dict(change).get("value"))
            addressed_to = as_str(as_dict(value.get("metadata")).get("phone_number_id"))
            if phone_number_id and addressed_to and addressed_to != phone_number_id:
                log.info("ignoring a WhatsApp change for another phone number id")
                continue
            for item in as_list(value.get("messages")):
                message = item_to_message(as_dict(item))
                if message is not None:
                    messages.append(message)
            for item in as_list(value.get("statuses")):
                status = item_to_status(as_dict(item))
                if status is not None:
                    statuses.append(status)
    return messages, statuses


def _reply_id(item: dict[str, Any]) -> str:
    """The payload of a tapped button: our reply/row id for interactive replies, the button's
    payload (else its text) for template quick-reply buttons."""
    kind = as_str(item.get("type"))
    if kind == "interactive":
        interactive = as_dict(item.get("interactive"))
        reply_type = as_str(interactive.get("type"))
        if reply_type in ("button_reply", "list_reply"):
            reply = as_dict(interactive.get(reply_type))
            return as_str(reply.get("id")) or as_str(reply.get("title"))
        return ""
    button = as_dict(item.get("button"))
    return as_str(button.get("payload")) or as_str(button.get("text"))


def item_to_message(item: dict[str, Any]) -> Message | None:
    """One `messages[]` item -> a Message, or None for types we do not handle."""
    sender = as_str(item.get("from"))
    message_id = as_str(item.get("id"))
    kind = as_str(item.get("type"))
    if not sender or not message_id:
        return None
    media: tuple[str, ...] = ()
    if kind == "text":
        text = as_str(as_dict(item.get("text")).get("body"))
    elif kind in ("interactive", "button"):
        text = _reply_id(item)
    elif kind in WHATSAPP_KINDS:
        content = as_dict(item.get(kind))
        media_id = as_str(content.get("id"))
        if not media_id or not media_id.isalnum() or len(media_id) > 64:
            log.info("WhatsApp %s message %s without a usable media id", kind, message_id)
            return None
        text = as_str(content.get("caption"))
        media = (whatsapp_ref(kind, media_id, as_str(content.get("filename"))[:200]),)
    else:
        log.info("WhatsApp message %s of type %r skipped", message_id, kind[:40])
        return None
    text = clean_text(text)   # (Message cleans too: here so that nothing-but-controls is no message)
    if not text and not media:
        return None
    if len(text) > MAX_TEXT_CHARS:
        log.warning("WhatsApp message %s is %d characters: submitted cut to %d", message_id, len(text),
                    MAX_TEXT_CHARS)  # fmt: skip
        text = text[:MAX_TEXT_CHARS]
    return Message(
        channel=CHANNEL, sender=sender, conversation_id="", text=text, message_id=message_id,
        timestamp=as_timestamp(item.get("timestamp")), attachments=media,
    )  # fmt: skip


def item_to_status(item: dict[str, Any]) -> Status | None:
    message_id = as_str(item.get("id"))
    status = as_str(item.get("status"))
    if not message_id or not status:
        return None
    if status == "failed":
        errors = [as_dict(e) for e in as_list(item.get("errors"))]
        reasons = "; ".join(r for e in errors if (r := as_str(e.get("title")) or as_str(e.get("message"))))
        log.warning("WhatsApp reports message %s failed: %s", message_id, reasons or "?")
    return message_id, status, as_timestamp(item.get("timestamp"))


# -- outbound -----------------------------------------------------------------------------------


def _options(
    buttons: tuple[Button, ...], limit: int, title_limit: int, id_limit: int
) -> list[tuple[str, str]]:
    """(id, title) pairs WhatsApp will accept: non-empty titles clipped, unique ids, payloads too
    long for an id replaced by the title (matched as text by the bot)."""
    if len(buttons) > limit:
        log.warning("%d buttons: WhatsApp shows only the first %d", len(buttons), limit)
    options: list[tuple[str, str]] = []
    seen: set[str] = set()
    for button in buttons:
        title = clip(button.title.strip(), title_limit)
        reply_id = button.payload or button.title
        if len(reply_id) > id_limit:
            log.warning("button payload over %d characters: sending its title instead", id_limit)
            reply_id = button.title[:id_limit]
        if not title or not reply_id or reply_id in seen:
            continue
        seen.add(reply_id)
        options.append((reply_id, title))
        if len(options) == limit:
            break
    return options


def interactive_payload(body: str, buttons: tuple[Button, ...]) -> dict[str, Any] | None:
    """The `interactive` object for `buttons`: reply buttons up to 3, a list from 4 (max 10 rows);
    None when no button is usable."""
    if len(buttons) <= MAX_REPLY_BUTTONS:
        options = _options(buttons, MAX_REPLY_BUTTONS, REPLY_TITLE_LIMIT, REPLY_ID_LIMIT)
        if not options:
            return None
        action: dict[str, Any] = {
            "buttons": [{"type": "reply", "reply": {"id": i, "title": t}} for i, t in options]
        }
        return {"type": "button", "body": {"text": body}, "action": action}
    options = _options(buttons, MAX_LIST_ROWS, ROW_TITLE_LIMIT, ROW_ID_LIMIT)
    if not options:
        return None
    rows = [{"id": i, "title": t} for i, t in options]
    action = {"button": LIST_BUTTON_LABEL, "sections": [{"rows": rows}]}
    return {"type": "list", "body": {"text": body}, "action": action}


class WhatsAppSender:
    """The `Sender` for WhatsApp: the Cloud API messages endpoint of our phone number."""

    channel = CHANNEL

    def __init__(self, graph: GraphClient, settings: MetaSettings, *,
                 clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        self.graph = graph
        self.settings = settings
        self.clock = clock

    async def deliver(self, message: Message, *, last_inbound_at: float | None) -> None:
        await self.send(message, last_inbound_at=last_inbound_at)

    async def send(self, message: Message, *, last_inbound_at: float | None) -> list[str]:
        """Deliver `message` and return the WhatsApp message ids (`wamid...`, what statuses name).

        Raises DeliveryRefused outside the 24-hour window (no API call), GraphError otherwise.
        """
        if not within_window(last_inbound_at, self.clock()):
            raise DeliveryRefused(
                "WhatsApp's 24-hour window closed: the shopper has not written in the last 24 hours, "
                "so only an approved template message could reach them.", key="window_closed"
            )
        text = outbound_text(message.text, message.attachments)
        chunks = split_text(text, TEXT_LIMIT)
        interactive = interactive_payload("", message.buttons) if message.buttons else None
        if interactive is not None:
            # The buttons ride on the last chunk, whose body is limited to 1024 characters.
            last = chunks.pop() if chunks else choose_prompt(message.lang)
            tail = split_text(last, INTERACTIVE_BODY_LIMIT)
            interactive["body"] = {"text": tail[-1]}
            chunks.extend(tail[:-1])
        preview = bool(message.attachments)
        bodies = [{"type": "text", "text": {"body": chunk, "preview_url": preview}} for chunk in chunks]
        if interactive is not None:
            bodies.append({"type": "interactive", "interactive": interactive})
        ids = []
        for body in bodies:
            answer = await self._post({
                "messaging_product": "whatsapp", "recipient_type": "individual", "to": message.sender, **body,
            })  # fmt: skip
            sent = as_list(answer.get("messages"))
            ids.append(as_str(as_dict(sent[0]).get("id")) if sent else "")
        if not bodies:
            log.info("nothing to send to WhatsApp for message %s (empty)", message.message_id)
        return ids

    async def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        path = f"{self.settings.whatsapp_phone_number_id}/messages"
        try:
            return await self.graph.post(path, body, token=self.settings.whatsapp_token)
        except GraphError as exc:
            if exc.code in WINDOW_ERROR_CODES:
                raise DeliveryRefused(f"WhatsApp's 24-hour window closed: {exc.message}",
                                      key="window_closed") from exc
            raise
