"""Request body size limit (64 KiB by default), enforced before the body is read.

Nothing the gateway accepts (chat messages, webhooks, ticket forms) comes
close to 64 KiB; refusing early keeps a slow or huge upload from tying up a
worker or its memory. A declared Content-Length is checked up front; bodies
without one (chunked) are counted as they stream in.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from urllib.parse import parse_qs

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .channels.meta import MAX_WEBHOOK_BYTES  # Meta batches many events in one delivery
from .errors import TrackedSend, error_response


class BodyTooLarge(HTTPException):
    """Raised from `receive` mid-stream; an HTTPException so FastAPI renders it as 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, _message(limit), headers={"Connection": "close"})


def _message(limit: int) -> str:
    return f"Request body too large: the limit is {limit} bytes."




# paths with their own limit: a prefix, or a pattern (the chat's file uploads: gateway/app.py)
Override = tuple[str | re.Pattern[str], int]
DEFAULT_OVERRIDES: tuple[Override, ...] = (("/webhooks/", MAX_WEBHOOK_BYTES),)


# an exact path whose larger limit only a caller passing `may(scope)` gets (Rasa's action calls
# carry the whole tracker, which outgrows 64 KiB after a dozen FAQ answers; strangers keep 64 KiB)
Grant = tuple[str, int, Callable[[Scope], bool]]


def query_token_is(token: str) -> Callable[[Scope], bool]:
    """The request carries `?token=<token>` (compared in constant time; an empty token never matches)."""
    def may(scope: Scope) -> bool:
        given = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [])
        return bool(token) and len(given) == 1 and hmac.compare_digest(given[0].encode(), token.encode())
    return may


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int, *,
                 overrides: tuple[Override, ...] = DEFAULT_OVERRIDES, grants: tuple[Grant, ...] = ()) -> None:
        self.app = app
        self.default_max = max_bytes
        self.overrides = overrides
        self.grants = grants

    def limit_for(self, path: str) -> int:
        return next((limit for where, limit in self.overrides
                     if (where.match(path) if isinstance(where, re.Pattern) else path.startswith(where))),
                    self.default_max)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        max_bytes = next((limit for where, limit, may in self.grants if path == where and may(scope)),
                         self.limit_for(path))
        declared = _content_length(scope)
        if declared == -1:
            await error_response(400, "Invalid Content-Length header.", headers={"Connection": "close"})(
                scope, receive, send
            )
            return
        if declared is not None and declared > max_bytes:
            await self._reject(scope, receive, send, max_bytes)
            return

        received = 0

        async def guarded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise BodyTooLarge(max_bytes)
            return message

        tracked = TrackedSend(send)
        try:
            await self.app(scope, guarded_receive, tracked)
        except BodyTooLarge:
            if tracked.started:
                raise
            await self._reject(scope, receive, send, max_bytes)

    async def _reject(self, scope: Scope, receive: Receive, send: Send, max_bytes: int) -> None:
        response = error_response(413, _message(max_bytes), headers={"Connection": "close"})
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    """The declared body length, None if absent, -1 if malformed."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                return -1
            return length if length >= 0 else -1
    return None
