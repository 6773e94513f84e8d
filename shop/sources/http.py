"""One resilient JSON client for the shops' APIs: timeouts, retries with backoff, a circuit breaker.

A shop's back office is outside our machine and fails in every way a network service can:
slow, down, throttled, answering HTML error pages. Transient failures (timeouts, connection
errors, 429, 5xx) are retried a few times with exponential backoff (a `Retry-After` is honoured
when sooner than the cap); after repeated failures the breaker opens and calls fail at once for
a while, so a shop that is down costs the shopper a second, not a queue of retries. Anything
else comes back to the connector, which knows its platform's error shapes.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState

from kit.backoff import retry_after, retrying

from .base import SourceError, SourceMisconfigured

log = logging.getLogger("shop.sources")


class _Transient(SourceError):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any  # parsed JSON (None when the body is empty)
    headers: httpx.Headers


def require_https(url: str, what: str) -> str:
    """Keys travel in headers: only HTTPS, except to this machine (local tests, a local proxy)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SourceMisconfigured(f"{what}: {url!r} is not an http(s) address")
    if parts.scheme == "http":
        host = parts.hostname
        try:
            local = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            local = False
        if not local:
            raise SourceMisconfigured(
                f"{what}: {url!r} must use https:// (the API key would travel in clear)"
            )
    return url.rstrip("/")


class JsonApi:
    """A pooled `httpx.AsyncClient` for one shop API; create it on the event loop that uses it."""

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float = 5.0,
        attempts: int = 3,
        backoff: float = 0.2,
        max_backoff: float = 2.0,
        breaker_threshold: int = 5,
        breaker_seconds: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        refused: Callable[[Reply], str | None] = lambda reply: None,
    ) -> None:
        self.name = name
        self.refused = refused  # the platform's way of saying "wrong key / disabled / no scope"
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._breakers = AsyncCircuitBreakerFactory(
            default_threshold=breaker_threshold, default_ttl=breaker_seconds, exclude=[SourceMisconfigured]
        )
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers={"Accept": "application/json", **(headers or {})},
            auth=auth,
            timeout=httpx.Timeout(timeout),
            transport=transport,
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def call(
        self, method: str, path: str, *, params: dict[str, str] | None = None, json: Any = None
    ) -> Reply:
        """The parsed reply of a call that reached the shop (any status but 429/5xx); raises
        SourceError when the shop cannot be reached, stays in error or answers non-JSON."""
        attempts = retrying(self.name, _Transient, attempts=self.attempts, backoff=self.backoff,
                            cap=self.max_backoff, log=log)
        try:
            async with await self._breakers.get_breaker(self.name):
                async for attempt in attempts:
                    with attempt:
                        return await self._once(method, path, params, json)
        except OpenedState:
            raise SourceError(f"{self.name} unavailable (circuit open after repeated failures)") from None
        raise AssertionError("unreachable: tenacity returns or reraises")  # pragma: no cover

    async def _once(self, method: str, path: str, params: dict[str, str] | None, json: Any) -> Reply:
        try:
            response = await self._client.request(method, path, params=params, json=json)
        except httpx.TimeoutException as exc:
            raise _Transient(f"{self.name} timed out ({type(exc).__name__})") from exc
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            raise _Transient(f"{self.name} unreachable ({type(exc).__name__})") from exc
        try:
            body = response.json() if response.content.strip() else None
        except ValueError:
            if response.status_code < 300:
                raise SourceError(
                    f"{self.name} answered HTTP {response.status_code} with a body that is not JSON"
                ) from None
            body = None  # an HTML error page: the status says enough
        reply = Reply(response.status_code, body, response.headers)
        if (why := self.refused(reply)) is not None:
            raise SourceMisconfigured(f"{self.name}: {why}")
        if response.status_code == 429 or response.status_code >= 500:
            raise _Transient(f"{self.name} answered HTTP {response.status_code}",
                             retry_after(response.headers))
        return reply
