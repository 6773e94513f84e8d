"""Where the running product reports what happens, without ever slowing or breaking a chat.

`emit` hands an event to the EventLog in a background task: a shopper's reply never waits
for the counters, and an analytics failure is logged, not raised. Events carry stable ids
(derived from message / ticket ids), so a retried webhook or action is counted once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from analytics.log import EventLog

from .events import Event

log = logging.getLogger("analytics")


class Recorder:
    def __init__(self, log_: EventLog | None, *, on_event: Callable[[str], None] | None = None):
        self.log = log_
        self.on_event = on_event   # e.g. a Prometheus counter per kind
        self._tasks: set[asyncio.Task[None]] = set()

    def emit(self, make: Callable[..., Event], **fields: Any) -> None:
        """Build the event now (bad fields are a bug: logged), append it in the background."""
        if self.log is None:
            return
        try:
            event = make(**{k: v for k, v in fields.items() if v not in (None, "")})
        except (TypeError, ValueError) as exc:
            log.warning("analytics event refused", extra={"event": getattr(make, "__name__", "?"),
                                                         "error": str(exc)})
            return
        if self.on_event is not None:
            self.on_event(event.kind.value)
        task = asyncio.create_task(self._append(event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _append(self, event: Event) -> None:
        try:
            await self.log.append(event)  # type: ignore[union-attr]
        except Exception as exc:  # Redis hiccup: the chat goes on
            log.warning("analytics append failed", extra={"kind": str(event.kind), "error": str(exc)})

    async def flush(self, timeout: float = 10.0) -> None:
        """Wait for pending appends (shutdown, tests)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)


NULL = Recorder(None)
