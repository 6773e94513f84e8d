"""The web channel: the widget's WebSocket (`/ws/chat`) and its HTTP fallback (`/api/chat/...`).

The server issues the conversation id; it is unguessable and is all a widget needs to
resume the conversation from another page or tab (history is re-fetched). Messages carry a
client-made `message_id`, so a message re-sent after a reconnect is stored once. The JSON
protocol is documented in docs/protocol.md.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from typing import Any

from email_validator import EmailNotValidError, validate_email
from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from handoff.store import OUTBOX

from ..errors import error_code, error_response
from ..feeds import relay
from ..render import markdown_html
from ..state import GatewayState, get_state
from .message import MAX_TEXT_CHARS, Message

log = logging.getLogger("gateway.web")
router = APIRouter()
MAX_FRAME_BYTES = 8 * 1024
MAX_ID_CHARS = 64
RETRY_AFTER_S = 10


class NewConversation(BaseModel):
    lang: str = Field(default="", max_length=5)


class ChatMessage(BaseModel):
    text: str = Field(min_length=1)
    message_id: str = Field(default="", max_length=MAX_ID_CHARS)
    lang: str = Field(default="", max_length=5)


class OfflineTicket(BaseModel):
    email: str = Field(max_length=254)
    order_number: str = Field(default="", max_length=40)
    message: str = Field(min_length=1)
    lang: str = Field(default="", max_length=5)


class ChatError(Exception):
    def __init__(self, status: int, message: str, **extra: Any):
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


async def start_conversation(state: GatewayState, lang: str = "") -> dict[str, str]:
    visitor = "v-" + secrets.token_urlsafe(12)
    cid = await state.transcripts.open("web", visitor, lang=lang if lang in ("fr", "en") else "")
    return {"conversation_id": cid, "visitor_id": visitor}


async def web_conversation(state: GatewayState, cid: str) -> dict[str, str]:
    conv = await state.transcripts.conversation(cid) if cid.startswith("c-") else None
    if conv is None or conv.get("channel") != "web":
        raise ChatError(404, "unknown conversation: start a new one")
    return conv


async def receive_text(state: GatewayState, conv: dict[str, str], text: str, message_id: str,
                       lang: str) -> dict[str, Any]:
    """Checks and stores one shopper message; routing happens in the background."""
    if len(text) > MAX_TEXT_CHARS:
        raise ChatError(413, f"messages are limited to {MAX_TEXT_CHARS} characters", limit=MAX_TEXT_CHARS)
    if not text.strip():
        raise ChatError(422, "empty message")
    if not await state.rate_limit.allow(f"web:{conv['sender']}"):
        raise ChatError(429, "too many messages: wait a little before sending more")
    message = Message(channel="web", sender=conv["sender"], conversation_id=conv["id"], text=text.strip(),
                      lang=lang if lang in ("fr", "en") else "",
                      **({"message_id": f"web:{conv['id']}:{message_id}"} if message_id else {}))
    stored = await state.inbox.submit(message)
    return {"message_id": message_id or message.message_id, "duplicate": not stored}


def _chat_error(exc: ChatError) -> JSONResponse:
    headers = {"Retry-After": str(RETRY_AFTER_S)} if exc.status == 429 else None
    return error_response(exc.status, exc.message, headers=headers, **exc.extra)


# -- HTTP fallback ---------------------------------------------------------------------


@router.post("/api/chat/conversations", status_code=201)
async def create_conversation(request: Request, body: NewConversation | None = None) -> JSONResponse:
    state = get_state(request)
    return JSONResponse(await start_conversation(state, body.lang if body else ""), status_code=201)


@router.get("/api/chat/availability")
async def availability(request: Request, lang: str = "fr") -> JSONResponse:
    """What the widget's header says: is a human there now, how fast do they usually answer,
    and when the team is back (from the opening hours, never a guess)."""
    state = get_state(request)
    services = state.action_services
    lang = "en" if lang == "en" else "fr"
    status = await services.availability()
    return JSONResponse({
        "status": status,  # human | busy | closed
        "typical_wait_s": await state.desk.typical_wait_s(),
        "next_opening": services.next_opening(lang) if status == "closed" else None,
        "ticket_reply_hours": services.sla_hours,
    }, headers={"Cache-Control": "no-store"})


@router.get("/api/chat/conversations/{cid}/messages")
async def history(request: Request, cid: str, after: int = 0) -> JSONResponse:
    state = get_state(request)
    try:
        conv = await web_conversation(state, cid)
    except ChatError as exc:
        return _chat_error(exc)
    after = max(after, 0)
    messages = await state.transcripts.history(cid, after=after)
    return JSONResponse({"conversation_id": cid, "state": conv.get("state", "bot"), "after": after,
                         "messages": [public(m) for m in messages]})


@router.post("/api/chat/conversations/{cid}/messages", status_code=202)
async def post_message(request: Request, cid: str, body: ChatMessage) -> JSONResponse:
    state = get_state(request)
    try:
        conv = await web_conversation(state, cid)
        result = await receive_text(state, conv, body.text, body.message_id, body.lang)
    except ChatError as exc:
        return _chat_error(exc)
    return JSONResponse(result, status_code=202)


@router.post("/api/chat/conversations/{cid}/tickets", status_code=201)
async def offline_ticket(request: Request, cid: str, body: OfflineTicket) -> JSONResponse:
    """The widget's offline form: a ticket with the conversation attached."""
    state = get_state(request)
    try:
        conv = await web_conversation(state, cid)
        if len(body.message) > MAX_TEXT_CHARS:
            raise ChatError(413, f"messages are limited to {MAX_TEXT_CHARS} characters", limit=MAX_TEXT_CHARS)
        if not body.message.strip():
            raise ChatError(422, "empty message", field="message")
        try:
            email = validate_email(body.email, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise ChatError(422, f"invalid e-mail address: {exc}", field="email") from exc
    except ChatError as exc:
        return _chat_error(exc)
    lang = body.lang if body.lang in ("fr", "en") else conv.get("lang") or "fr"
    ticket = await state.tickets.open_ticket(
        conversation_id=cid, channel="web", email=email, order_number=body.order_number.strip(),
        message=body.message.strip(), lang=lang, reason=conv.get("reason", ""), source="widget",
        request_key=f"widget:{cid}:{digest(email, body.message)}")
    return JSONResponse(ticket, status_code=201)


SHOPPER_VISIBLE_EVENTS = ("agent_joined",)


def digest(*parts: str) -> str:
    """Stable across processes and restarts (unlike hash()): idempotency keys."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


def public(message: Message) -> dict[str, Any]:
    """What the widget may see of a stored message: no agent e-mails, no internal events."""
    data = message.to_dict()
    data.pop("sender", None)
    if message.role == "agent":
        data["author"] = "agent"
    if message.role == "system" and message.author not in SHOPPER_VISIBLE_EVENTS:
        data["text"] = ""
    return with_html(data)


def with_html(data: dict[str, Any]) -> dict[str, Any]:
    """Bot texts are markdown (FAQ answers): add their sanitised HTML. Anything a person
    typed (shopper, agent) stays text only, for pages to show as text."""
    if data.get("role") == "bot" and data.get("text"):
        data["html"] = markdown_html(data["text"])
    return data


# -- WebSocket -------------------------------------------------------------------------


@router.websocket("/ws/chat")
async def chat_socket(ws: WebSocket) -> None:
    state: GatewayState = ws.app.state.gateway
    await ws.accept()
    cid = ws.query_params.get("conversation_id", "")
    try:
        conv = await web_conversation(state, cid) if cid else None
    except ChatError:
        conv = None
    if conv is None:
        started = await start_conversation(state, ws.query_params.get("lang", ""))
        conv = await web_conversation(state, started["conversation_id"])
    cid = conv["id"]
    await ws.send_json({"type": "welcome", "conversation_id": cid, "state": conv.get("state", "bot"),
                        "resumed": cid == ws.query_params.get("conversation_id")})
    try:
        async with relay(state.feeds, OUTBOX.format(cid=cid), lambda data: _forward(ws, data)):
            while True:
                frame = await ws.receive()
                if frame["type"] == "websocket.disconnect":
                    break
                if frame.get("text") is None:
                    await ws.send_json(_frame_error(422, "frames are JSON text, not binary"))
                    continue
                reply = await _handle_frame(state, conv, frame["text"])
                if reply is not None:
                    await ws.send_json(reply)
    except WebSocketDisconnect:
        pass


async def _handle_frame(state: GatewayState, conv: dict[str, str], raw: str) -> dict[str, Any] | None:
    if len(raw.encode()) > MAX_FRAME_BYTES:
        return _frame_error(413, f"frames are limited to {MAX_FRAME_BYTES} bytes")
    try:
        frame = json.loads(raw)
        if not isinstance(frame, dict):
            raise ValueError("not an object")
    except ValueError:
        return _frame_error(422, "frames are JSON objects")
    kind = frame.get("type")
    if kind == "ping":
        return {"type": "pong", "at": time.time()}
    if kind == "history":
        after = frame.get("after", 0)
        after = after if isinstance(after, int) and not isinstance(after, bool) and after >= 0 else 0
        messages = await state.transcripts.history(conv["id"], after=after)
        return {"type": "history", "after": after, "messages": [public(m) for m in messages]}
    if kind == "message":
        text, mid, lang = frame.get("text"), frame.get("message_id", ""), frame.get("lang", "")
        if not isinstance(text, str) or not isinstance(mid, str) or not isinstance(lang, str) \
                or len(mid) > MAX_ID_CHARS:
            return _frame_error(422, "a message frame needs a text string (and optional message_id, lang)")
        try:
            ack = await receive_text(state, conv, text, mid, lang)
        except ChatError as exc:
            return _frame_error(exc.status, exc.message, message_id=mid, **exc.extra)
        return {"type": "ack", **ack}
    return _frame_error(422, f"unknown frame type {kind!r}")


def _frame_error(status: int, message: str, **extra: Any) -> dict[str, Any]:
    return {"type": "error", "error": error_code(status), "status": status, "message": message, **extra}


async def _forward(ws: WebSocket, raw: Any) -> None:
    """Everything published for this conversation (bot, agent, other tabs) to this socket."""
    data = json.loads(raw)
    if data.get("type") == "message":
        data["message"] = public(Message.from_dict(data["message"]))
    await ws.send_json(data)
