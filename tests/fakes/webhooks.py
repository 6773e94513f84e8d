"""A bare app around one channel router, and signed webhook posts: what the Messenger and
WhatsApp webhook tests share."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from gateway.errors import install_error_handlers

from .graph_server import sign


def channel_client(router: APIRouter, inbox: Any, meta: Any) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router)
    app.state.gateway = SimpleNamespace(inbox=inbox, meta=meta, senders={})
    return TestClient(app)


def post_signed(client: TestClient, path: str, payload: Any, *, secret: str, raw: bytes | None = None,
                signature: str | None = "auto") -> Any:
    """POST a webhook body signed with `secret` ("auto"), a given header value, or unsigned (None)."""
    body = raw if raw is not None else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if signature == "auto":
        headers["X-Hub-Signature-256"] = sign(body, secret)
    elif signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return client.post(path, content=body, headers=headers)
