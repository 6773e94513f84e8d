"""Per-request telemetry: request id, access log line and HTTP metrics.

Requests are labelled by route template (`/api/search`), never by raw path or
query string: that keeps metric cardinality bounded and keeps shoppers' text
out of the logs. Probes and scrapes log at DEBUG (every few seconds, and /readyz
says why it is not ready itself) so they do not drown the rest.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .logs import request_id
from .metrics import Metrics

log = logging.getLogger("gateway.access")

METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
QUIET_ROUTES = {"/healthz", "/readyz", "/metrics"}
UNMATCHED = "<unmatched>"
_INCOMING_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class RequestTelemetryMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _request_id(scope)
        token = request_id.set(rid)
        start = time.perf_counter()
        status = 500  # if the app dies before answering, the server sends a 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = rid
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - start
            self._record(scope, status, elapsed)
            request_id.reset(token)

    def _record(self, scope: Scope, status: int, elapsed: float) -> None:
        route = getattr(scope.get("route"), "path", None) or UNMATCHED
        method = scope["method"] if scope["method"] in METHODS else "OTHER"
        self.metrics.http_requests.labels(method, route, str(status)).inc()
        self.metrics.http_duration.labels(method, route).observe(elapsed)
        fields = {"method": method, "route": route, "status": status, "duration_ms": round(elapsed * 1000, 2)}
        if route == UNMATCHED:
            fields["path"] = scope["path"][:200]  # no query string: it may hold personal data
        level = logging.DEBUG if route in QUIET_ROUTES else logging.INFO
        log.log(level, "request", extra=fields)


def _request_id(scope: Scope) -> str:
    """The load balancer's X-Request-ID when it looks sane, else a fresh one."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if _INCOMING_ID.fullmatch(candidate):
                return candidate
    return uuid.uuid4().hex
