"""Facebook Messenger channel: the webhook (inbound) and the Send API sender (outbound).

Inbound: `GET /webhooks/messenger` answers Meta's subscription handshake; `POST` checks the
body size, then the `X-Hub-Signature-256` signature (nothing unsigned is parsed), then turns
each `entry[].messaging[]` event into a `Message` for the inbox. Echoes of our own messages,
delivery and read receipts, and events we do not handle (reactions, referrals...) are ignored;
a malformed single event is skipped rather than failing the batch, because Meta would
otherwise retry the whole batch forever. Only a malformed envelope gets a 422.

Attachments (`attachments[].payload.url`) are fetched and kept before the message is submitted
(channels/media.py); a file we do not keep gets the shopper a polite reply.

Over-long texts: a shopper's text longer than MAX_TEXT_CHARS is submitted cut to that length
(and logged) instead of refused: a webhook batch has one status code, Meta cannot be told
"413" for one message, and dropping the message would lose the shopper's question.

Outbound: a `typing_on` sender action (best effort), then one Send API call per chunk of at
most 2000 characters, the quick replies (max 13, titles <= 20 characters) on the last one.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from conversation.message import MAX_TEXT_CHARS, Button, Message, clean_text
from conversation.ports import DeliveryRefused

from ..deps import get_state
from ..errors import error_response
from .graph import GraphClient, GraphError
from .media import submit_all
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
)  # fmt: skip

log = logging.getLogger("gateway.channels.messenger")

CHANNEL = "messenger"
MAX_QUICK_REPLIES = 13
MAX_QUICK_REPLY_TITLE = 20
MAX_QUICK_REPLY_PAYLOAD = 1000
SEND_TEXT_LIMIT = 2000
# Graph's "outside of the allowed window" error (code 10, subcode 2018278).
WINDOW_ERROR_SUBCODES = {2018278}

router = APIRouter()


# -- inbound ------------------------------------------------------------------------------------


@router.get("/webhooks/messenger", include_in_schema=False)
async def messenger_handshake(request: Request) -> Response:
    """Meta's subscription check: echo `hub.challenge` only with our verify token."""
    status, text = handshake(request, get_state(request).meta, CHANNEL)
    return PlainTextResponse(text) if status == 200 else error_response(status, text)


@router.post("/webhooks/messenger", include_in_schema=False)
async def messenger_webhook(request: Request) -> Response:
    """Verify, normalise and hand everything to the inbox; 200 once all of it is stored."""
    state = get_state(request)
    try:
        settings, payload = await signed_webhook(request, state.meta, state.inbox, CHANNEL)
        messages = fresh(parse_events(payload))
    except WebhookRejected as exc:
        return error_response(exc.status, exc.message)
    try:
        await submit_all(state, messages)   # media fetched and kept first (channels/media.py)
    except Exception:
        log.exception("could not store a Messenger webhook")
        return error_response(503, "Could not store the message; Meta will retry.")
    return JSONResponse({"status": "ok"})


def parse_events(payload: Any) -> list[Message]:
    """The shopper messages in a Messenger webhook body; WebhookRejected(422) on a bad envelope."""
    if not isinstance(payload, dict) or payload.get("object") != "page":
        raise WebhookRejected(422, 'Expected a Messenger webhook: {"object": "page", "entry": [...]}.')
    entries = payload.get("entry")
    if not isinstance(entries, list):
        raise WebhookRejected(422, 'Expected a Messenger webhook: "entry" must be a list.')
    messages: list[Message] = []
    for entry in entries:
        for event in as_list(as_dict(entry).get("messaging")):
            message = event_to_message(as_dict(event))
            if message is not None:
                messages.append(message)
    return messages


def _event_id(prefix: str, psid: str, raw_timestamp: Any) -> str:
    """A stable id for events without a `mid`, so Meta's retries are still deduplicated."""
    return f"{prefix}:{psid}:{as_str(raw_timestamp) or 'no-timestamp'}"


def event_to_message(event: dict[str, Any]) -> Message | None:
    """One `messaging[]` event -> a Message, or None when it is not a shopper message."""
    psid = as_str(as_dict(event.get("sender")).get("id"))
    if not psid:
        return None
    timestamp = as_timestamp(event.get("timestamp"), millis=True)
    message = event.get("message")
    postback = event.get("postback")
    attachments: tuple[str, ...] = ()
    if isinstance(message, dict):
        if message.get("is_echo"):
            return None  # our own outbound message, mirrored back
        payload = as_str(as_dict(message.get("quick_reply")).get("payload"))
        text = payload or as_str(message.get("text"))
        attachments = tuple(
            url for item in as_list(message.get("attachments"))
            if (url := as_str(as_dict(as_dict(item).get("payload")).get("url"))).startswith(("https://", "http://"))
        )  # fmt: skip
        message_id = as_str(message.get("mid")) or _event_id("message", psid, event.get("timestamp"))
    elif isinstance(postback, dict):
        text = as_str(postback.get("payload")) or as_str(postback.get("title"))
        message_id = as_str(postback.get("mid")) or _event_id("postback", psid, event.get("timestamp"))
    else:
        return None  # delivery, read, reaction, optin, referral, ...
    text = clean_text(text)   # (Message cleans too: here so that nothing-but-controls is no message)
    if not text and not attachments:
        return None
    if len(text) > MAX_TEXT_CHARS:
        log.warning("Messenger message %s is %d characters: submitted cut to %d", message_id, len(text),
                    MAX_TEXT_CHARS)  # fmt: skip
        text = text[:MAX_TEXT_CHARS]
    return Message(
        channel=CHANNEL, sender=psid, conversation_id="", text=text, message_id=message_id,
        timestamp=timestamp, attachments=attachments,
    )  # fmt: skip


# -- outbound -----------------------------------------------------------------------------------


def quick_replies(buttons: tuple[Button, ...]) -> list[dict[str, str]]:
    """Buttons as Messenger quick replies: at most 13, titles clipped to 20 characters; a payload
    too long for Messenger falls back to the title (matched as text by the bot)."""
    if len(buttons) > MAX_QUICK_REPLIES:
        log.warning("%d buttons: Messenger shows only the first %d", len(buttons), MAX_QUICK_REPLIES)
    replies = []
    for button in buttons[:MAX_QUICK_REPLIES]:
        title = clip(button.title.strip(), MAX_QUICK_REPLY_TITLE)
        if not title:
            continue
        payload = button.payload or button.title
        if len(payload) > MAX_QUICK_REPLY_PAYLOAD:
            log.warning("quick reply payload over %d characters: sent its title", MAX_QUICK_REPLY_PAYLOAD)
            payload = button.title[:MAX_QUICK_REPLY_PAYLOAD]
        replies.append({"content_type": "text", "title": title, "payload": payload})
    return replies


class MessengerSender:
    """The `Sender` for Messenger: Send API calls with the page access token."""

    channel = CHANNEL

    def __init__(self, graph: GraphClient, settings: MetaSettings, *, typing: bool = True) -> None:
        self.graph = graph
        self.settings = settings
        self.typing = typing

    async def deliver(self, message: Message, *, last_inbound_at: float | None) -> None:
        await self.send(message, last_inbound_at=last_inbound_at)

    async def send(self, message: Message, *, last_inbound_at: float | None = None) -> list[str]:
        """Deliver `message` and return the Messenger message ids (one per text chunk).

        Messenger's own 24-hour rule is enforced by Graph (RESPONSE messages only): its refusal
        becomes DeliveryRefused; other Graph failures raise GraphError.
        """
        recipient = {"id": message.sender}
        replies = quick_replies(message.buttons)
        chunks = split_text(outbound_text(message.text, message.attachments), SEND_TEXT_LIMIT)
        if not chunks and not replies:
            log.info("nothing to send to Messenger for message %s (empty)", message.message_id)
            return []
        chunks = chunks or [choose_prompt(message.lang)]
        if self.typing:
            try:
                await self._post({"recipient": recipient, "sender_action": "typing_on"})
            except DeliveryRefused:
                raise
            except GraphError as exc:  # only cosmetic: never block the answer on it
                log.warning("Messenger typing indicator failed: %s", exc)
        ids = []
        for index, chunk in enumerate(chunks):
            body: dict[str, Any] = {"text": chunk}
            if replies and index == len(chunks) - 1:
                body["quick_replies"] = replies
            answer = await self._post({"recipient": recipient, "messaging_type": "RESPONSE", "message": body})
            ids.append(as_str(answer.get("message_id")))
        return ids

    async def typing_on(self, psid: str) -> None:
        """Messenger's own "typing" bubble while an agent types in the console (a sender action:
        no message, nothing stored). Graph refusals raise; the caller treats it as cosmetic."""
        await self._post({"recipient": {"id": psid}, "sender_action": "typing_on"})

    async def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            return await self.graph.post("me/messages", body, token=self.settings.messenger_page_token)
        except GraphError as exc:
            if exc.subcode in WINDOW_ERROR_SUBCODES:
                raise DeliveryRefused(f"Messenger's 24-hour window closed: {exc.message}",
                                      key="window_closed") from exc
            raise
