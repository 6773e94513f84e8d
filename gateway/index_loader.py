"""Loads the FAQ index in a background thread.

The first build embeds the whole KB (tens of seconds) and even importing the
retrieval stack takes seconds; doing either on the event loop would keep
`/healthz` silent and get the process killed by its supervisor. So the
service is created and started in a thread, and `/readyz` reports progress.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from retrieval.service import RetrievalService

log = logging.getLogger("gateway.index")

_NOT_LOADED: dict[str, Any] = {
    "ready": False, "index_version": None, "entries": 0, "model": None, "thresholds": None,
    "reloads": 0, "last_reload_at": None, "kb_errors": [],
}  # fmt: skip


class IndexLoader:
    """Owns a RetrievalService's start/stop, unless it was handed over already started.

    A service that is ready when given to `for_service` belongs to the caller
    (tests share one across apps): it is neither restarted nor stopped here.
    """

    def __init__(self, factory: Callable[[], RetrievalService], *, owned: bool = True) -> None:
        self._factory = factory
        self._owned = owned
        self._service: RetrievalService | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stopping = False
        self.error: str | None = None

    @classmethod
    def for_service(cls, service: RetrievalService) -> IndexLoader:
        loader = cls(lambda: service, owned=not service.ready)
        loader._service = service
        return loader

    @property
    def service(self) -> RetrievalService | None:
        return self._service

    @property
    def ready(self) -> bool:
        return self._service is not None and self._service.ready

    def faq(self) -> RetrievalService | None:
        """The FAQ once it serves (None while the first index loads): what its users ask for."""
        return self._service if self.ready else None

    @property
    def loading(self) -> bool:
        """Building and not serving yet (the thread lives a moment after the index is ready)."""
        return not self.ready and self._thread is not None and self._thread.is_alive()

    def status(self) -> dict[str, Any]:
        """`RetrievalService.status()` plus `loading` and `error` (start-up failure, if any)."""
        service = self._service
        base = service.status() if service is not None else dict(_NOT_LOADED)
        return {**base, "loading": self.loading, "error": self.error}

    def start(self) -> None:
        if not self._owned or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="index-loader", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the KB watcher. A build still running is abandoned after `timeout`: it is a
        daemon thread and the index store writes under a temporary name, so nothing is corrupted."""
        with self._lock:
            self._stopping = True
            service = self._service
        if self._owned and service is not None:
            service.stop()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            service = self._service or self._factory()
            with self._lock:
                self._service = service
                if self._stopping:
                    return
            service.start()
            if service.ready:
                log.info("FAQ index ready", extra=_summary(service.status()))
            else:
                log.error("FAQ index not loaded", extra=_summary(service.status()))
        except Exception as exc:  # reported by /readyz; the process stays up for /healthz
            self.error = f"{type(exc).__name__}: {exc}"
            log.exception("FAQ index failed to start")
        with self._lock:
            if self._stopping and self._service is not None:
                self._service.stop()  # shutdown arrived mid-build: stop the watcher start() began


def _summary(status: dict[str, Any]) -> dict[str, Any]:
    return {k: status.get(k) for k in ("index_version", "entries", "model", "kb_errors")}
