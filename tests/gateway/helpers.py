"""Helpers for gateway tests (not fixtures)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from fastapi.testclient import TestClient

from retrieval.service import RetrievalService
from tests.helpers import on_redis

KB_SMALL = Path(__file__).resolve().parents[1] / "fixtures" / "kb_small"
METRICS_TOKEN = "metrics-test-token"   # gateway_settings' METRICS_TOKEN: /metrics and /readyz details
METRICS_AUTH = {"Authorization": f"Bearer {METRICS_TOKEN}"}
T = TypeVar("T")


class GatedService(RetrievalService):
    """The real service, whose start() waits for `gate`: "index still loading" on demand."""

    def __init__(self, *args: Any, gate: threading.Event, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gate = gate

    def start(self) -> RetrievalService:
        if not self.gate.wait(timeout=60):
            raise TimeoutError("test gate never opened")
        return super().start()


PASSWORD = "correct horse battery"


def add_accounts(redis_url: str, **roles: str) -> None:
    """Agent accounts with the test PASSWORD: add_accounts(url, ana="agent", boss="admin") creates
    ana@shop.example and boss@shop.example (a name with an @ is the whole e-mail)."""
    from handoff.accounts import Accounts

    async def add(conn: Any) -> None:
        for name, role in roles.items():
            await Accounts(conn).add(name if "@" in name else f"{name}@shop.example", PASSWORD, role)

    on_redis(redis_url, add)


def wait_until_ready(client: TestClient, timeout: float = 60.0) -> dict[str, Any]:
    """Poll /readyz until 200 and return its body; fail with the last body otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get("/readyz")
        if response.status_code == 200 or time.monotonic() > deadline:
            assert response.status_code == 200, response.json()
            return response.json()  # type: ignore[no-any-return]
        time.sleep(0.1)


def add(redis_url: str, email: str, role: str = "agent") -> None:
    """One agent account (password PASSWORD)."""
    add_accounts(redis_url, **{email: role})


def login(api: TestClient, email: str) -> dict[str, str]:
    res = api.post("/api/agent/login", json={"email": email, "password": PASSWORD})
    assert res.status_code == 200, res.text
    return {"Authorization": f"Bearer {res.json()['token']}"}


def queued(api: TestClient, redis_url: str) -> str:
    """A new conversation waiting in the handoff queue."""
    from handoff.desk import HandoffRequest, HelpDesk

    from .web_client import new_conversation

    cid = new_conversation(api, lang="fr")
    on_redis(redis_url, lambda r: HelpDesk(r).request_handoff(
        HandoffRequest(cid, "fr", "returns/process", "je veux retourner un vase", "asked")))
    return cid


def wait_for(read: Callable[[], T], done: Callable[[T], bool], timeout: float = 10.0) -> T:
    """`read()` again until `done` says yes (what the app appends in the background: analytics)."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.05)
