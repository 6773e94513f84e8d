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
from urllib.parse import urlsplit

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


class MediaTooLarge(GraphError):
    """A media file larger than we keep: refused while it streams, not after."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"media larger than {limit} bytes", error_type="MediaTooLarge")
        self.limit = limit


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
        return await self._call("POST", path, json, token=token)

    async def get(self, path: str, *, token: str) -> dict[str, Any]:
        """GET `path` (relative to the API version: "<media-id>") and return Graph's JSON answer."""
        return await self._call("GET", path, None, token=token)

    def may_download(self, url: str) -> bool:
        """Media only over https, or from the Graph API's own origin (a test double): never a
        file: or internal http URL slipped into a webhook."""
        try:
            parts, base = urlsplit(url), urlsplit(self.settings.graph_api_base)
        except ValueError:
            return False
        if not parts.hostname or parts.username is not None:
            return False
        return parts.scheme == "https" or (parts.scheme, parts.netloc) == (base.scheme, base.netloc)

    async def download(self, url: str, *, token: str | None, max_bytes: int) -> tuple[bytes, str]:
        """(content, Content-Type) of a media URL (WhatsApp's need the bearer token, Messenger's
        CDN links none), streamed and cut off past `max_bytes` (MediaTooLarge). No redirects."""
        if not self.may_download(url):
            raise GraphError("media URL refused (not https)", error_type="MediaURL")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            async with self._client.stream("GET", url, headers=headers) as response:
                if response.status_code >= 400:
                    raise GraphError(f"media download failed: HTTP {response.status_code}",
                                     status=response.status_code, retryable=response.status_code >= 500)
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise MediaTooLarge(max_bytes)
                kind = response.headers.get("content-type", "")
                chunks, size = [], 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise MediaTooLarge(max_bytes)
                    chunks.append(chunk)
        except httpx.HTTPError as exc:
            raise GraphError(f"media download failed ({type(exc).__name__})", retryable=True) from exc
        return b"".join(chunks), kind

    async def _call(self, method: str, path: str, json: dict[str, Any] | None, *,
                    token: str) -> dict[str, Any]:
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
                        return await self._once(method, path.lstrip("/"), json, params, headers)
        except OpenedState:
            raise GraphError("Graph API unavailable (circuit open after repeated failures)",
                             error_type="CircuitOpen", retryable=True) from None
        raise AssertionError("unreachable: tenacity either returns or reraises")  # pragma: no cover

    async def _once(
        self, method: str, path: str, json: dict[str, Any] | None, params: dict[str, str],
        headers: dict[str, str],
    ) -> dict[str, Any]:  # fmt: skip
        try:
            response = await self._client.request(method, path, json=json, params=params, headers=headers)
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
