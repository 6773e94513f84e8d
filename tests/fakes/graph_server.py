"""A fake Meta Graph API on a real local HTTP server, plus the webhook-side test helpers.

`FakeGraph` runs uvicorn in a background thread on a free port and answers the two calls the
senders make: the Messenger Send API (`POST /<version>/me/messages`) and the WhatsApp Cloud API
messages endpoint (`POST /<version>/<phone-number-id>/messages`). Like Graph it checks the
Bearer token and `appsecret_proof`, validates the request shape (limits included) and answers
Graph-style errors `{"error": {"message", "type", "code"}}`. Accepted requests are recorded;
every attempt is counted, so tests can see retries. `fail_next`, `slow_next` and
`close_window` script failures.

Media, as shoppers send them: `add_media(media_id, content, mime)` makes a WhatsApp media id
that `GET /<version>/<media-id>` resolves (bearer token and appsecret_proof checked) to
`{"messaging_product", "url", "mime_type", "sha256", "file_size", "id"}`, whose `url` serves the
bytes only with the WhatsApp token; `add_cdn_file(name, content, mime)` returns a Messenger
attachment URL (`payload.url`), served without a token like Meta's CDN. Downloads are recorded
in `downloads`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from conversation.message import Message

from .local_server import LocalServer

# -- webhook-side helpers -----------------------------------------------------------------------


def sign(body: bytes, secret: str) -> str:
    """The `X-Hub-Signature-256` header value Meta would send for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class RecordingInbox:
    """An `Inbox` that records what the adapters hand it (optionally failing, to test 503s)."""

    def __init__(self, *, fail: bool = False) -> None:
        self.messages: list[Message] = []
        self.statuses: list[tuple[str, str, str, float]] = []
        self.fail = fail

    async def submit(self, message: Message) -> bool:
        if self.fail:
            raise ConnectionError("inbox storage down")
        if any(m.message_id == message.message_id for m in self.messages):
            return False
        self.messages.append(message)
        return True

    async def record_status(self, channel: str, message_id: str, status: str, timestamp: float) -> None:
        if self.fail:
            raise ConnectionError("inbox storage down")
        self.statuses.append((channel, message_id, status, timestamp))


# -- the fake Graph API -------------------------------------------------------------------------


class ShapeError(Exception):
    """The request body is not what Graph accepts; becomes a Graph-style 400."""


def graph_error(status: int, message: str, *, type_: str = "OAuthException", code: int = 100,
                subcode: int | None = None) -> JSONResponse:  # fmt: skip
    error: dict[str, Any] = {"message": message, "type": type_, "code": code, "fbtrace_id": "FakeTrace"}
    if subcode is not None:
        error["error_subcode"] = subcode
    return JSONResponse({"error": error}, status_code=status)


@dataclass
class Call:
    """One accepted request."""

    endpoint: str  # "messenger" | "whatsapp"
    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    query: dict[str, str]


@dataclass
class _Script:
    fail: list[tuple[int, float | None]] = field(default_factory=list)  # (status, retry_after)
    slow: list[float] = field(default_factory=list)


def _text(value: Any, name: str, limit: int, *, minimum: int = 1) -> str:
    if not isinstance(value, str) or not minimum <= len(value) <= limit:
        raise ShapeError(f"{name} must be a string of {minimum}-{limit} characters")
    return value


def _only(obj: dict[str, Any], allowed: set[str], name: str) -> None:
    if extra := set(obj) - allowed:
        raise ShapeError(f"unexpected field(s) in {name}: {sorted(extra)}")


def _obj(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ShapeError(f"{name} must be an object")
    return value


def validate_messenger(body: Any) -> str:
    """Checks a Send API body; returns the recipient PSID."""
    body = _obj(body, "body")
    psid = _text(_obj(body.get("recipient"), "recipient").get("id"), "recipient.id", 64)
    if "sender_action" in body:
        _only(body, {"recipient", "sender_action"}, "sender action body")
        if body["sender_action"] not in ("typing_on", "typing_off", "mark_seen"):
            raise ShapeError("sender_action must be typing_on, typing_off or mark_seen")
        return psid
    _only(body, {"recipient", "messaging_type", "message", "tag"}, "body")
    if body.get("messaging_type") not in ("RESPONSE", "UPDATE", "MESSAGE_TAG"):
        raise ShapeError("messaging_type must be RESPONSE, UPDATE or MESSAGE_TAG")
    message = _obj(body.get("message"), "message")
    _only(message, {"text", "quick_replies"}, "message")
    _text(message.get("text"), "message.text", 2000)
    if "quick_replies" in message:
        replies = message["quick_replies"]
        if not isinstance(replies, list) or not 1 <= len(replies) <= 13:
            raise ShapeError("message.quick_replies must have 1-13 items")
        for reply in replies:
            reply = _obj(reply, "quick reply")
            _only(reply, {"content_type", "title", "payload", "image_url"}, "quick reply")
            if reply.get("content_type") != "text":
                raise ShapeError("quick reply content_type must be text")
            _text(reply.get("title"), "quick reply title", 20)
            _text(reply.get("payload"), "quick reply payload", 1000)
    return psid


def _validate_interactive(interactive: Any) -> None:
    interactive = _obj(interactive, "interactive")
    _only(interactive, {"type", "body", "action", "header", "footer"}, "interactive")
    action = _obj(interactive.get("action"), "interactive.action")
    body = _obj(interactive.get("body"), "interactive.body")
    if interactive.get("type") == "button":
        _text(body.get("text"), "interactive.body.text", 1024)
        _only(action, {"buttons"}, "interactive.action")
        buttons = action.get("buttons")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
            raise ShapeError("interactive.action.buttons must have 1-3 items")
        ids, titles = set(), set()
        for button in buttons:
            button = _obj(button, "button")
            if button.get("type") != "reply":
                raise ShapeError("button type must be reply")
            reply = _obj(button.get("reply"), "button.reply")
            _only(reply, {"id", "title"}, "button.reply")
            ids.add(_text(reply.get("id"), "button.reply.id", 256))
            titles.add(_text(reply.get("title"), "button.reply.title", 20))
        if len(ids) != len(buttons) or len(titles) != len(buttons):
            raise ShapeError("button ids and titles must be unique")
    elif interactive.get("type") == "list":
        _text(body.get("text"), "interactive.body.text", 4096)
        _only(action, {"button", "sections"}, "interactive.action")
        _text(action.get("button"), "interactive.action.button", 20)
        sections = action.get("sections")
        if not isinstance(sections, list) or not 1 <= len(sections) <= 10:
            raise ShapeError("interactive.action.sections must have 1-10 items")
        row_ids: list[str] = []
        for section in sections:
            section = _obj(section, "section")
            if len(sections) > 1 or "title" in section:
                _text(section.get("title"), "section.title", 24)
            rows = section.get("rows")
            if not isinstance(rows, list) or not rows:
                raise ShapeError("section.rows must be a non-empty list")
            for row in rows:
                row = _obj(row, "row")
                _only(row, {"id", "title", "description"}, "row")
                row_ids.append(_text(row.get("id"), "row.id", 200))
                _text(row.get("title"), "row.title", 24)
                if "description" in row:
                    _text(row["description"], "row.description", 72)
        if len(row_ids) > 10 or len(set(row_ids)) != len(row_ids):
            raise ShapeError("a list has at most 10 rows in all, with unique ids")
    else:
        raise ShapeError("interactive.type must be button or list")


def validate_whatsapp(body: Any) -> str:
    """Checks a Cloud API messages body; returns the recipient."""
    body = _obj(body, "body")
    if body.get("messaging_product") != "whatsapp":
        raise ShapeError("messaging_product must be whatsapp")
    if body.get("recipient_type", "individual") != "individual":
        raise ShapeError("recipient_type must be individual")
    to = _text(body.get("to"), "to", 32)
    kind = body.get("type")
    _only(body, {"messaging_product", "recipient_type", "to", "type", kind}, "body")
    if kind == "text":
        text = _obj(body.get("text"), "text")
        _only(text, {"body", "preview_url"}, "text")
        _text(text.get("body"), "text.body", 4096)
        if not isinstance(text.get("preview_url", False), bool):
            raise ShapeError("text.preview_url must be a boolean")
    elif kind == "interactive":
        _validate_interactive(body.get("interactive"))
    else:
        raise ShapeError(f"this fake only accepts type text or interactive, not {kind!r}")
    return to


class FakeGraph(LocalServer):
    """`with FakeGraph(...) as graph:` -> `graph.base_url`, `graph.calls`, `graph.attempts`."""

    def __init__(
        self, *, app_secret: str = "app-secret", page_token: str = "page-token",
        whatsapp_token: str = "wa-token", phone_number_id: str = "1055", version: str = "v25.0",
    ) -> None:  # fmt: skip
        self.app_secret = app_secret
        self.page_token = page_token
        self.whatsapp_token = whatsapp_token
        self.phone_number_id = phone_number_id
        self.version = version
        self.calls: list[Call] = []
        self.attempts = 0
        self.closed_windows: set[str] = set()
        self._script = _Script()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.media: dict[str, tuple[bytes, str]] = {}      # WhatsApp media id -> (content, mime)
        self.cdn: dict[str, tuple[bytes, str]] = {}        # Messenger CDN name -> (content, mime)
        self.downloads: list[str] = []
        routes = [Route("/{version}/{node}/messages", self._messages, methods=["POST"]),
                  Route("/wa-media/{media_id}", self._media_file, methods=["GET"]),
                  Route("/cdn/{name}", self._cdn_file, methods=["GET"]),
                  Route("/{version}/{media_id}", self._media_info, methods=["GET"])]
        super().__init__(Starlette(routes=routes), "graph")

    # -- scripting (from the test thread) --

    def fail_next(self, count: int, status: int = 503, *, retry_after: float | None = None) -> None:
        """The next `count` requests get `status` (before any check)."""
        with self._lock:
            self._script.fail.extend([(status, retry_after)] * count)

    def slow_next(self, count: int, seconds: float) -> None:
        """The next `count` requests wait `seconds` before being handled."""
        with self._lock:
            self._script.slow.extend([seconds] * count)

    def close_window(self, recipient: str) -> None:
        """Messages to `recipient` are refused like Graph does outside the 24-hour window."""
        with self._lock:
            self.closed_windows.add(recipient)

    def reset(self) -> None:
        """Forget calls and scripts: one server can serve a whole test module."""
        with self._lock:
            self.calls.clear()
            self.attempts = 0
            self.closed_windows.clear()
            self._script = _Script()
            self._ids = itertools.count(1)
            self.media.clear()
            self.cdn.clear()
            self.downloads.clear()

    def add_media(self, media_id: str, content: bytes, mime: str) -> None:
        with self._lock:
            self.media[media_id] = (content, mime)

    def add_cdn_file(self, name: str, content: bytes, mime: str) -> str:
        with self._lock:
            self.cdn[name] = (content, mime)
        return f"{self.base_url}/cdn/{name}"

    def _token_ok(self, request: Request, token: str) -> JSONResponse | None:
        if request.headers.get("authorization", "") != f"Bearer {token}":
            return graph_error(401, "Invalid OAuth access token - Cannot parse access token", code=190)
        return None

    async def _media_info(self, request: Request) -> JSONResponse:
        """WhatsApp's "retrieve media URL": the id's short-lived download URL and facts."""
        version, media_id = request.path_params["version"], request.path_params["media_id"]
        if version != self.version:
            return graph_error(400, f"Unknown path components: /{version}", code=2500)
        if (refused := self._token_ok(request, self.whatsapp_token)) is not None:
            return refused
        proof = request.query_params.get("appsecret_proof", "")
        expected = hmac.new(self.app_secret.encode(), self.whatsapp_token.encode(),
                            hashlib.sha256).hexdigest()
        if not hmac.compare_digest(proof.encode(), expected.encode()):
            return graph_error(403, "Invalid appsecret_proof provided in the API argument", code=100,
                               type_="GraphMethodException")  # fmt: skip
        with self._lock:
            found = self.media.get(media_id)
        if found is None:
            return graph_error(400, f"Unsupported get request. Object with ID '{media_id}' does not exist",
                               code=100, type_="GraphMethodException")  # fmt: skip
        content, mime = found
        return JSONResponse({"messaging_product": "whatsapp", "url": f"{self.base_url}/wa-media/{media_id}",
                             "mime_type": mime, "sha256": hashlib.sha256(content).hexdigest(),
                             "file_size": str(len(content)), "id": media_id})

    async def _media_file(self, request: Request) -> Response:
        if (refused := self._token_ok(request, self.whatsapp_token)) is not None:
            return refused
        with self._lock:
            found = self.media.get(request.path_params["media_id"])
            self.downloads.append(request.url.path)
        if found is None:
            return Response(status_code=404)
        return Response(found[0], media_type=found[1])

    async def _cdn_file(self, request: Request) -> Response:
        with self._lock:
            found = self.cdn.get(request.path_params["name"])
            self.downloads.append(request.url.path)
        if found is None:
            return Response(status_code=404)
        return Response(found[0], media_type=found[1])

    def calls_to(self, endpoint: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.endpoint == endpoint]

    async def _messages(self, request: Request) -> JSONResponse:
        with self._lock:
            self.attempts += 1
            failure = self._script.fail.pop(0) if self._script.fail else None
            delay = self._script.slow.pop(0) if self._script.slow else 0.0
        if delay:
            await asyncio.sleep(delay)
        if failure is not None:
            status, retry_after = failure
            response = graph_error(status, "(#2) Service temporarily unavailable", code=2)
            if retry_after is not None:
                response.headers["Retry-After"] = str(retry_after)
            return response
        version, node = request.path_params["version"], request.path_params["node"]
        if version != self.version:
            return graph_error(400, f"Unknown path components: /{version}", code=2500)
        if node == "me":
            endpoint, token = "messenger", self.page_token
        elif node == self.phone_number_id:
            endpoint, token = "whatsapp", self.whatsapp_token
        else:
            message = f"Unsupported post request. Object with ID '{node}' does not exist"
            return graph_error(400, message, code=100, type_="GraphMethodException")
        authorization = request.headers.get("authorization", "")
        if authorization != f"Bearer {token}":
            return graph_error(401, "Invalid OAuth access token - Cannot parse access token", code=190)
        proof = request.query_params.get("appsecret_proof", "")
        expected = hmac.new(self.app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(proof.encode(), expected.encode()):
            return graph_error(403, "Invalid appsecret_proof provided in the API argument", code=100,
                               type_="GraphMethodException")  # fmt: skip
        try:
            body = await request.json()
            recipient = validate_messenger(body) if endpoint == "messenger" else validate_whatsapp(body)
        except (ValueError, ShapeError) as exc:
            return graph_error(400, f"(#100) Invalid parameter: {exc}")
        with self._lock:
            closed = recipient in self.closed_windows
        if closed and not (endpoint == "messenger" and "sender_action" in body):
            if endpoint == "messenger":
                return graph_error(400, "(#10) This message is sent outside of allowed window.", code=10,
                                   subcode=2018278)  # fmt: skip
            return graph_error(400, "Re-engagement message", code=131047)
        with self._lock:
            self.calls.append(Call(endpoint, request.url.path, body, dict(request.headers),
                                   dict(request.query_params)))  # fmt: skip
            number = next(self._ids)
        if endpoint == "messenger":
            answer: dict[str, Any] = {"recipient_id": recipient}
            if "message" in body:
                answer["message_id"] = f"m_fake{number}"
            return JSONResponse(answer)
        return JSONResponse({
            "messaging_product": "whatsapp", "contacts": [{"input": recipient, "wa_id": recipient}],
            "messages": [{"id": f"wamid.fake{number}"}],
        })  # fmt: skip
