"""A small async client for Meta's Graph API, shared by the Messenger and WhatsApp senders.

Every call carries the access token as a Bearer header (never in the URL, so it stays out
of access logs) plus `appsecret_proof`. Transient failures (timeouts, connection errors,
429, 5xx) are retried with exponential backoff; other 4xx are the caller's fault and raise
`GraphError` at once with Graph's own message. Note that a retried POST after a *read*
timeout may deliver a message twice: Graph has no idempotency key, and a duplicate answer
is judged better than a lost one.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState

from kit.backoff import retry_after, retrying

from .meta import MetaSettings, appsecret_proof

log = logging.getLogger("gateway.channels.graph")


class GraphError(Exception):
    """A Graph call failed; `message` is Graph's explanation (shown to agents and in logs)."""

    def __init__(
        self, message: str, *, status: int | None = None, code: int | None = None,
        subcode: int | None = None, error_type: str = "", retryable: bool = False,
    ) -> None:  # fmt: skip
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.subcode = subcode
        self.error_type = error_type
        self.retryable = retryable

    def __str__(self) -> str:
        where = f"HTTP {self.status}" if self.status is not None else "no response"
        code = f", code {self.code}" if self.code is not None else ""
        sub = f"/{self.subcode}" if self.subcode is not None else ""
        return f"Graph API error ({where}{code}{sub}): {self.message}"


class _Transient(GraphError):
    """Worth retrying; raised as-is (a GraphError) once the attempts are used up."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None,
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(message, status=status, retryable=True, **kwargs)
        self.retry_after = retry_after


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _error_from(response: httpx.Response) -> dict[str, Any]:
    """Graph's `{"error": {...}}` body, or a stand-in when the body is something else."""
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return error
    return {"message": response.reason_phrase or f"HTTP {response.status_code}"}


class GraphClient:
    """One pooled `httpx.AsyncClient` per process; create it on the event loop that uses it and
    `await aclose()` it on shutdown (or use `async with`)."""

    def __init__(
        self, settings: MetaSettings, *, attempts: int = 4, backoff: float = 0.5, max_backoff: float = 8.0,
        timeout: float = 10.0, connect_timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:  # fmt: skip
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.settings = settings
        self.attempts = attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        # only failures worth retrying count (network, 5xx, 429): a refused message is not an outage
        self._breakers = AsyncCircuitBreakerFactory(
            default_threshold=5, default_ttl=30.0,
            exclude=[(GraphError, lambda exc: not getattr(exc, "retryable", False))])
        self._client = httpx.AsyncClient(
            base_url=f"{settings.graph_api_base.rstrip('/')}/{settings.graph_api_version}/",
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            transport=transport,
            headers={"Accept": "application/json"},
        )

    async def __aenter__(self) -> GraphClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def post(self, path: str, json: dict[str, Any], *, token: str) -> dict[str, Any]:
        """POST `json` to `path` (relative to the API version: "me/messages",
        "<phone-number-id>/messages") and return Graph's JSON answer."""
        if not token:
            raise GraphError("no access token configured", error_type="ConfigurationError")
        params = {"appsecret_proof": appsecret_proof(token, self.settings.app_secret)} \
            if self.settings.app_secret else {}  # fmt: skip
        headers = {"Authorization": f"Bearer {token}"}
        attempts = retrying("Graph", _Transient, attempts=self.attempts, backoff=self.backoff,
                            cap=self.max_backoff, log=log)
        try:
            async with await self._breakers.get_breaker("graph"):   # Graph down: fail fast, not 4 x backoff
                async for attempt in attempts:
                    with attempt:
                        return await self._post_once(path.lstrip("/"), json, params, headers)
        except OpenedState:
            raise GraphError("Graph API unavailable (circuit open after repeated failures)",
                             error_type="CircuitOpen", retryable=True) from None
        raise AssertionError("unreachable: tenacity either returns or reraises")  # pragma: no cover

    async def _post_once(
        self, path: str, json: dict[str, Any], params: dict[str, str], headers: dict[str, str]
    ) -> dict[str, Any]:
        try:
            response = await self._client.post(path, json=json, params=params, headers=headers)
        except httpx.TimeoutException as exc:
            raise _Transient(f"timed out ({type(exc).__name__})") from exc
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            raise _Transient(f"connection failed ({type(exc).__name__}: {exc})") from exc
        status = response.status_code
        if status == 429 or status >= 500:
            error = _error_from(response)
            raise _Transient(
                str(error.get("message") or f"HTTP {status}"), status=status,
                retry_after=retry_after(response.headers), code=_int(error.get("code")),
                subcode=_int(error.get("error_subcode")),
                error_type=str(error.get("type") or ""),
            )  # fmt: skip
        if status >= 400:
            error = _error_from(response)
            raise GraphError(
                str(error.get("message") or f"HTTP {status}"), status=status, code=_int(error.get("code")),
                subcode=_int(error.get("error_subcode")), error_type=str(error.get("type") or ""),
            )  # fmt: skip
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise GraphError("Graph answered with something other than a JSON object", status=status)
        return body
