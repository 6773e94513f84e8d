"""The web channel: the widget's WebSocket (`/ws/chat`) and its HTTP fallback (`/api/chat/...`).

The server issues the conversation id; it is unguessable and is all a widget needs to
resume the conversation from another page or tab (history is re-fetched). Messages carry a
client-made `message_id`, so a message re-sent after a reconnect is stored once. The JSON
protocol is documented in docs/protocol.md.

Abuse limits (gateway/ratelimit.py): messages per conversation and per client address, new
conversations per address, tickets per conversation and per address; each refusal is a 429 with
Retry-After (an error frame with `retry_after_s` on the socket). Shopper text is cleaned of
control and bidi characters (message.clean_text) before anything stores it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from typing import Annotated, Any

from email_validator import EmailNotValidError, validate_email
from fastapi import APIRouter, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, Field
from starlette.requests import HTTPConnection

from conversation.message import MAX_HISTORY_AFTER, MAX_TEXT_CHARS, Message, clean_text
from conversation.transcript import Conversation
from kit import texts
from kit.keys import OUTBOX
from shop.order_numbers import NumberFormat

from ..deps import GatewayState, get_state
from ..errors import error_code, error_response
from ..feeds import relay
from ..render import markdown_html
from ..typing_signals import Refused

log = logging.getLogger("gateway.web")
router = APIRouter()
MAX_FRAME_BYTES = 8 * 1024
MAX_ID_CHARS = 64
RETRY_AFTER_S = 10
CLOSE_TRY_AGAIN_LATER = 1013   # WebSocket close code: the server refuses for now, come back later
TOO_MANY_MESSAGES = "too many messages: wait a little before sending more"
TOO_MANY_CONVERSATIONS = "too many new conversations from this address: try again later"
TOO_MANY_TICKETS = "too many messages left from this conversation or address: try again later"



def plain_id(value: str) -> str:
    """Client-made ids are stored in keys and echoed back: no control or invisible characters."""
    if clean_text(value) != value:
        raise ValueError("ids are plain text, without control characters")
    return value


CleanText = Annotated[str, AfterValidator(clean_text)]   # what a person typed, without control characters
MessageId = Annotated[str, Field(max_length=MAX_ID_CHARS), AfterValidator(plain_id)]
After = Annotated[int, Query(ge=0, le=MAX_HISTORY_AFTER, description="transcript position to read from")]


class NewConversation(BaseModel):
    lang: str = Field(default="", max_length=5)


class ChatMessage(BaseModel):
    text: str = Field(min_length=1)
    message_id: MessageId = ""
    lang: str = Field(default="", max_length=5)


class OfflineTicket(BaseModel):
    email: str = Field(max_length=254)
    order_number: str = Field(default="", max_length=40)   # empty or the shop's format (valid_order_number)
    message: CleanText = Field(min_length=1)
    lang: str = Field(default="", max_length=5)


def valid_order_number(raw: str, numbers: NumberFormat) -> str:
    """"" or the number in the shop's format (AL-123456, XKBKNABJK, #1001...); ValueError for
    anything else, so a ticket never carries free text where agents expect an order number."""
    typed = clean_text(raw).strip()
    if not typed:
        return ""
    number = numbers.normalise(typed)
    if number is None:
        raise ValueError(f"an order number looks like {numbers.example}")
    return number


class ChatError(Exception):
    def __init__(self, status: int, message: str, **extra: Any):
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


def client_of(conn: HTTPConnection, state: GatewayState) -> str:
    """The budget key of the connection's client address (the proxy's X-Forwarded-For only when
    uvicorn trusts it: FORWARDED_ALLOW_IPS)."""
    return state.rate_limit.client(conn.client.host if conn.client else None)


async def start_conversation(state: GatewayState, client: str, lang: str = "") -> Conversation:
    """A new conversation, within the client's budget of new conversations (else ChatError 429)."""
    wait = await state.rate_limit.new_conversation(client)
    if wait:
        raise ChatError(429, TOO_MANY_CONVERSATIONS, retry_after_s=wait)
    visitor = "v-" + secrets.token_urlsafe(12)
    lang = lang if lang in texts.LANGS else ""
    cid = await state.transcripts.open("web", visitor, lang=lang, client=client)
    return {"conversation_id": cid, "visitor_id": visitor}


async def seen_from(state: GatewayState, conv: Conversation, client: str) -> None:
    """Per-address budgets follow the shopper's current address, also where only the
    conversation is known (the bot's ticket form: Transcripts.client_of)."""
    if conv.get("client") != client:
        await state.transcripts.update(conv["id"], client=client)
        conv["client"] = client


async def web_conversation(state: GatewayState, cid: str) -> Conversation:
    conv = await state.transcripts.conversation(cid) if cid.startswith("c-") else None
    if conv is None or conv.get("channel") != "web":
        raise ChatError(404, "unknown conversation: start a new one")
    return conv


async def receive_text(state: GatewayState, conv: Conversation, text: str, message_id: str,
                       lang: str, client: str) -> dict[str, Any]:
    """Checks and stores one shopper message; routing happens in the background."""
    text = clean_text(text)
    if len(text) > MAX_TEXT_CHARS:
        raise ChatError(413, f"messages are limited to {MAX_TEXT_CHARS} characters", limit=MAX_TEXT_CHARS)
    if not text.strip():
        raise ChatError(422, "empty message")
    wait = await state.rate_limit.message(conv["sender"], client)
    if wait:
        raise ChatError(429, TOO_MANY_MESSAGES, retry_after_s=wait)
    message = Message(channel="web", sender=conv["sender"], conversation_id=conv["id"], text=text.strip(),
                      lang=lang if lang in texts.LANGS else "",
                      **({"message_id": f"web:{conv['id']}:{message_id}"} if message_id else {}))
    stored = await state.inbox.submit(message)
    return {"message_id": message_id or message.message_id, "duplicate": not stored}


def _chat_error(exc: ChatError) -> JSONResponse:
    wait = exc.extra.get("retry_after_s", RETRY_AFTER_S)
    headers = {"Retry-After": str(wait)} if exc.status == 429 else None
    return error_response(exc.status, exc.message, headers=headers, **exc.extra)


# -- HTTP fallback ---------------------------------------------------------------------


@router.post("/api/chat/conversations", status_code=201)
async def create_conversation(request: Request, body: NewConversation | None = None) -> JSONResponse:
    state = get_state(request)
    try:
        started = await start_conversation(state, client_of(request, state), body.lang if body else "")
    except ChatError as exc:
        return _chat_error(exc)
    return JSONResponse(started, status_code=201)


@router.get("/api/chat/availability")
async def availability(request: Request, lang: str = "fr") -> JSONResponse:
    """What the widget's header says: is a human there now, how fast do they usually answer,
    and when the team is back (from the opening hours, never a guess)."""
    state = get_state(request)
    services = state.action_services
    lang = texts.norm_lang(lang)
    status = await services.availability()
    return JSONResponse({
        "status": status,  # human | busy | closed
        "typical_wait_s": await state.desk.typical_wait_s(),
        "next_opening": services.next_opening(lang) if status == "closed" else None,
        "ticket_reply_hours": services.sla_hours,
    }, headers={"Cache-Control": "no-store"})


@router.get("/api/chat/conversations/{cid}/messages")
async def history(request: Request, cid: str, after: After = 0) -> JSONResponse:
    state = get_state(request)
    try:
        conv = await web_conversation(state, cid)
    except ChatError as exc:
        return _chat_error(exc)
    messages = await state.transcripts.history(cid, after=after)
    return JSONResponse({"conversation_id": cid, "state": conv.get("state", "bot"), "after": after,
                         "messages": [public(m) for m in messages]})


@router.post("/api/chat/conversations/{cid}/messages", status_code=202)
async def post_message(request: Request, cid: str, body: ChatMessage) -> JSONResponse:
    state = get_state(request)
    try:
        conv = await web_conversation(state, cid)
        client = client_of(request, state)
        await seen_from(state, conv, client)
        result = await receive_text(state, conv, body.text, body.message_id, body.lang, client)
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
        try:
            order_number = valid_order_number(body.order_number, state.order_gate.numbers)
        except ValueError as exc:   # the widget says it with the shop's own example
            raise ChatError(422, f"invalid order number: {exc}", field="order_number",
                            example=state.order_gate.numbers.example) from exc
        client = client_of(request, state)
        await seen_from(state, conv, client)
        wait = await state.rate_limit.ticket(cid, client)
        if wait:
            raise ChatError(429, TOO_MANY_TICKETS, retry_after_s=wait)
    except ChatError as exc:
        return _chat_error(exc)
    lang = body.lang if body.lang in texts.LANGS else texts.norm_lang(conv.get("lang"))
    ticket = await state.tickets.open_ticket(
        conversation_id=cid, channel="web", email=email, order_number=order_number,
        message=body.message.strip(), lang=lang, reason=conv.get("reason", ""), source="widget",
        request_key=f"widget:{cid}:{digest(email, body.message)}")
    try:   # one ticket flow: the bot's own message form must not ask for the e-mail again
        await state.router.bot.ticket_sent(cid)
    except Exception as exc:   # noqa: BLE001  (the ticket is saved: the bot's state is a courtesy)
        log.warning("could not end the bot's forms after a widget ticket: %s", exc)
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
    client = client_of(ws, state)
    cid = ws.query_params.get("conversation_id", "")
    try:
        conv = await web_conversation(state, cid) if cid else None
    except ChatError:
        conv = None   # forged or expired: a new one
    if conv is None:
        try:
            started = await start_conversation(state, client, ws.query_params.get("lang", ""))
        except ChatError as exc:   # no budget for a new conversation: say so, then close
            await ws.send_json(_frame_error(exc.status, exc.message, **exc.extra))
            await ws.close(code=CLOSE_TRY_AGAIN_LATER)
            return
        conv = await web_conversation(state, started["conversation_id"])
    await seen_from(state, conv, client)
    cid = conv["id"]
    await ws.send_json({"type": "welcome", "conversation_id": cid, "state": conv.get("state", "bot"),
                        "resumed": cid == ws.query_params.get("conversation_id")})
    try:
        async with relay(state.feeds, OUTBOX.format(cid=cid), lambda data: _forward(ws, data),
                         on_gap=lambda: ws.send_json({"type": "resync"})):
            while True:
                frame = await ws.receive()
                if frame["type"] == "websocket.disconnect":
                    break
                if frame.get("text") is None:
                    await ws.send_json(_frame_error(422, "frames are JSON text, not binary"))
                    continue
                reply = await _answer(state, conv, frame["text"], client)
                if reply is not None:
                    await ws.send_json(reply)
    except WebSocketDisconnect:
        pass


class FrameError(ValueError):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def load_frame(raw: str, max_bytes: int = MAX_FRAME_BYTES) -> dict[str, Any]:
    """A socket frame as a JSON object, or FrameError (413/422). JSON nested deeper than the
    parser's recursion limit raises RecursionError, not ValueError: without this, one
    2 KB frame ("[" * 1000) would kill the socket without a close frame."""
    if len(raw.encode("utf-8", "surrogatepass")) > max_bytes:
        raise FrameError(413, f"frames are limited to {max_bytes} bytes")
    try:
        frame = json.loads(raw)
    except (ValueError, RecursionError):
        frame = None
    if not isinstance(frame, dict):
        raise FrameError(422, "frames are JSON objects")
    return frame


async def _answer(state: GatewayState, conv: Conversation, raw: str, client: str) -> dict[str, Any] | None:
    """The reply to one frame; an unexpected failure becomes an error frame, so the widget
    keeps its socket (and learns why) instead of seeing it drop."""
    try:
        return await _handle_frame(state, conv, raw, client)
    except Exception:
        log.exception("could not handle a chat frame", extra={"conversation_id": conv["id"]})
        return _frame_error(500, "internal error; it has been logged")


async def _handle_frame(state: GatewayState, conv: Conversation, raw: str,
                        client: str) -> dict[str, Any] | None:
    try:
        frame = load_frame(raw)
    except FrameError as exc:
        return _frame_error(exc.status, exc.message)
    kind = frame.get("type")
    if kind == "ping":
        return {"type": "pong", "at": time.time()}
    if kind == "history":
        after = frame.get("after", 0)
        after = after if isinstance(after, int) and not isinstance(after, bool) and after >= 0 else 0
        if after > MAX_HISTORY_AFTER:
            return _frame_error(422, f"after is a transcript position, at most {MAX_HISTORY_AFTER}")
        messages = await state.transcripts.history(conv["id"], after=after)
        return {"type": "history", "after": after, "messages": [public(m) for m in messages]}
    if kind == "message":
        text, mid, lang = frame.get("text"), frame.get("message_id", ""), frame.get("lang", "")
        if not isinstance(text, str) or not isinstance(mid, str) or not isinstance(lang, str) \
                or len(mid) > MAX_ID_CHARS or clean_text(mid) != mid:
            return _frame_error(422, "a message frame needs a text string (and optional message_id, lang)")
        try:
            ack = await receive_text(state, conv, text, mid, lang, client)
        except ChatError as exc:
            return _frame_error(exc.status, exc.message, message_id=mid, **exc.extra)
        return {"type": "ack", **ack}
    if kind == "typing":   # ephemeral: relayed to the consoles, never stored (gateway/typing_signals.py)
        try:
            await state.typing.from_shopper(conv["id"], frame, client)
        except Refused as exc:
            return exc.frame()
        return None
    return _frame_error(422, f"unknown frame type {kind!r}")


def _frame_error(status: int, message: str, **extra: Any) -> dict[str, Any]:
    return {"type": "error", "error": error_code(status), "status": status, "message": message, **extra}


async def _forward(ws: WebSocket, raw: Any) -> None:
    """Everything published for this conversation (bot, agent, other tabs) to this socket."""
    data = json.loads(raw)
    if data.get("type") == "message":
        data["message"] = public(Message.from_dict(data["message"]))
    await ws.send_json(data)
