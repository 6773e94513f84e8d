"""Security headers on every response, and CORS only for the shop's own origins.

The console and dashboard show customers' personal data: they must not be
framed (clickjacking) nor leak URLs through Referer. Only the widget is meant
to be embedded in the shop's pages, so its paths are exempt from frame denial.
Headers a route sets itself win over these defaults.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

WIDGET_PATHS = ("/widget.js", "/widget/")
BASE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
NO_FRAMING = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
}


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, frameable_paths: Sequence[str] = WIDGET_PATHS) -> None:
        self.app = app
        self.frameable_paths = tuple(frameable_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = dict(BASE_HEADERS)
        if not str(scope["path"]).startswith(self.frameable_paths):
            extra.update(NO_FRAMING)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


def add_cors(app: FastAPI, origins: Sequence[str]) -> None:
    """Cross-origin access for the widget on the shop's origins; none at all when unset.

    No credentials: the widget identifies conversations with its own token, not cookies.
    """
    if not origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(origins),
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type", "Authorization"],
        allow_credentials=False,
        max_age=600,
    )
