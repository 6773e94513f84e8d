"""Retrying calls to a service outside the machine (Graph, a shop's API): exponential backoff,
Retry-After honoured, each retry logged."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt


def retry_after(headers: Mapping[str, str]) -> float | None:
    """A reply's Retry-After in seconds (None when absent, a date, or beyond an hour)."""
    try:
        seconds = float(headers.get("retry-after", ""))
    except ValueError:
        return None
    return seconds if 0 <= seconds < 3600 else None


def backoff_wait(state: RetryCallState, backoff: float, cap: float) -> float:
    """Exponential backoff (backoff, 2*backoff, ...) capped at `cap`; the failed call's
    `retry_after` (a 429's Retry-After) wins when sooner than the cap."""
    exc = state.outcome.exception() if state.outcome else None
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        return float(min(retry_after, cap))
    return exponential(state.attempt_number, backoff, cap)


def exponential(attempt: int, backoff: float, cap: float) -> float:
    """The wait before retry number `attempt` (1, 2, ...): backoff, 2*backoff, ... capped at `cap`
    (for loops that never give up, like a mailbox reader reconnecting)."""
    return float(min(backoff * 2 ** (min(max(attempt, 1), 64) - 1), cap))


def retrying(
    name: str,
    transient: type[BaseException],
    *,
    attempts: int,
    backoff: float,
    cap: float,
    log: logging.Logger,
) -> AsyncRetrying:
    """`async for attempt in retrying(...)`: retries only `transient` failures, then re-raises."""

    def log_retry(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "%s call failed (attempt %d of %d), retrying: %s", name, state.attempt_number, attempts, exc
        )

    return AsyncRetrying(
        stop=stop_after_attempt(attempts),
        wait=lambda state: backoff_wait(state, backoff, cap),
        retry=retry_if_exception_type(transient),
        before_sleep=log_retry,
        reraise=True,
    )
