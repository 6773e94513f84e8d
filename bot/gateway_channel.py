"""Rasa's only input channel: the REST channel, for the gateway alone.

Rasa's built-in `rest` channel answers anyone who can reach the port, which let a caller skip
the gateway (its rate limits, its transcript, its checks) and, for instance, open tickets. This
channel is the same REST webhook, at `/webhooks/gateway/webhook`, refusing (403) every request
that does not carry the secret shared with the gateway in the `X-Gateway-Token` header.

Loaded by Rasa from `credentials.yml` by its module path (`gateway_channel.GatewayInput`; Rasa
puts its working directory, `bot/`, on `sys.path`). Runs in the Rasa venv (Python 3.10): it
imports nothing from the gateway.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

TOKEN_HEADER = "X-Gateway-Token"
TOKEN_ENV = "RASA_TOKEN"   # the gateway's RASA_TOKEN: one secret between the gateway and Rasa


class GatewayInput(RestInput):
    """The REST webhook, answering only callers that prove they are the gateway."""

    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError(f"the gateway channel needs a secret: set {TOKEN_ENV}")
        self._token = token.encode()

    @classmethod
    def name(cls) -> str:
        return "gateway"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> GatewayInput:
        """The secret from credentials.yml (`token: ${RASA_TOKEN}`), else the environment."""
        token = str((credentials or {}).get("token") or os.environ.get(TOKEN_ENV) or "")
        return cls(token)

    def authorized(self, request: Request) -> bool:
        """Constant-time comparison, so the secret cannot be guessed byte by byte."""
        given = (request.headers.get(TOKEN_HEADER) or "").encode()
        return hmac.compare_digest(given, self._token)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = super().blueprint(on_new_message)

        @webhook.middleware("request")   # Sanic scopes a blueprint's middleware to its own routes
        async def require_token(request: Request) -> HTTPResponse | None:
            if self.authorized(request):
                return None
            return response.json({"error": "forbidden"}, status=403)

        return webhook
