"""One JSON error shape for every failure: `{"error": code, "message": text, ...}`.

Clients (the widget, channel adapters) branch on `error`, people read `message`. The staff
APIs add `key`, which names the message for the console to show in the agent's language
(locales `console.errors.<key>`, filled with the body's other fields); the English `message`
stays for API clients and logs. Validation errors never echo the input back (it is the
shopper's text), and unexpected exceptions become a logged 500 instead of a traceback.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("gateway.errors")

CODES = {
    400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "body_too_large",
    422: "invalid_request", 500: "internal_error", 503: "unavailable",
}  # fmt: skip


def error_code(status: int) -> str:
    return CODES.get(status) or HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")


def error_response(
    status: int, message: str, *, code: str | None = None, key: str | None = None,
    headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {"error": code or error_code(status), "message": message, **({"key": key} if key else {}), **extra}
    return JSONResponse(body, status_code=status, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    """("query", "q") -> "q"; ("body", "items", 0) -> "items.0"."""
    parts = [str(p) for p in loc[1:]] if len(loc) > 1 else [str(p) for p in loc]
    return ".".join(parts)


async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": _field(tuple(e["loc"])), "in": str(e["loc"][0]), "message": e["msg"]} for e in exc.errors()
    ]
    message = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "invalid request"
    return error_response(422, message, errors=errors)


async def http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return error_response(exc.status_code, str(exc.detail), headers=exc.headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    document_errors(app)


# Every error any route may answer, all with the same JSON body (error_response).
ERROR_STATUSES = {
    "400": "Malformed request", "401": "Missing, wrong or expired credentials",
    "403": "Not allowed for this role",
    "404": "Unknown resource", "409": "Conflicts with the current state", "413": "Body or text too large",
    "422": "Invalid input", "429": "Too many requests (see Retry-After)",
    "503": "A dependency (Redis, index, channel) is not ready",
}
ERROR_SCHEMA = {"type": "object", "required": ["error", "message"], "additionalProperties": True,
                "properties": {"error": {"type": "string"}, "message": {"type": "string"}}}


def document_errors(app: FastAPI) -> None:
    """Declare the shared error responses on every operation of the OpenAPI schema, so that clients
    (and schema-driven fuzzers) know every status the gateway can answer and its body."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                for status, description in ERROR_STATUSES.items():
                    responses[status] = {"description": description, "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Error"}}}}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


class TrackedSend:
    """Wraps `send` to tell whether the response has started: after that, an error can no
    longer be turned into a clean response (shared by the middlewares that try)."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.started = False

    async def __call__(self, message: Message) -> None:
        self.started = self.started or message["type"] == "http.response.start"
        await self.send(message)


class UnhandledErrorMiddleware:
    """Turns an escaped exception into a logged JSON 500 that still gets our security headers.

    (Starlette's own handler sits outside every user middleware, so its 500s would not.)
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tracked = TrackedSend(send)
        try:
            await self.app(scope, receive, tracked)
        except Exception:
            log.exception("unhandled error")
            if tracked.started:
                raise  # too late for a clean response: let the server drop the connection
            await error_response(500, "Internal error; it has been logged.")(scope, receive, send)
