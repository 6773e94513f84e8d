"""End-to-end fixtures: real Redis, gateway and Rasa processes wired to each other, a real
local SMTP server, shoppers on real WebSockets and agents on the HTTP API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from websockets.sync.client import ClientConnection, connect

from ops.ports import free_port
from ops.redis_server import RedisServer
from tests.bot.conftest import bot_model, open_shop, shared_index  # noqa: F401  (fixtures)
from tests.fakes.graph_server import FakeGraph
from tests.stack import REPO, Gateway, Rasa, stack

META_SECRET = "e2e-app-secret"


@pytest.fixture(scope="session")
def graph() -> Iterator[FakeGraph]:
    with FakeGraph(app_secret=META_SECRET, page_token="page-token", whatsapp_token="wa-token",
                   phone_number_id="1055") as fake:
        yield fake


@pytest.fixture(scope="session")
def open_stack(bot_model: Path, redis_server: RedisServer, open_shop: Path, shared_index: Path,  # noqa: F811
               graph: FakeGraph, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, Rasa]]:
    """The product open for business, every channel on (Meta's Graph API faked locally): one
    stack for the web and Meta end-to-end modules (Rasa takes ~30 s to start)."""
    env = {"META_APP_SECRET": META_SECRET, "MESSENGER_VERIFY_TOKEN": "verify-m",
           "MESSENGER_PAGE_TOKEN": "page-token", "WHATSAPP_VERIFY_TOKEN": "verify-w",
           "WHATSAPP_TOKEN": "wa-token", "WHATSAPP_PHONE_NUMBER_ID": "1055",
           "GRAPH_API_BASE": graph.base_url, "GRAPH_API_VERSION": graph.version}
    with stack(redis_server.url, tmp_path_factory.mktemp("open-stack"), shop_config=open_shop,
               index_dir=shared_index, extra_env=env) as pair:
        yield pair


class Mailbox:
    """aiosmtpd handler keeping every message it is handed."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                              "data": envelope.content.decode("utf-8", "replace")})
        return "250 Message accepted for delivery"


@contextmanager
def smtp_sink() -> Iterator[tuple[str, Mailbox]]:
    """A local SMTP server keeping what it is sent: its URL and the Mailbox."""
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{port}", box
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[str, Mailbox]]:
    with smtp_sink() as sink:
        yield sink


def add_agent(redis_url: str, email: str, password: str, role: str = "agent") -> None:
    """Through the real CLI, as an admin would."""
    res = subprocess.run([sys.executable, "-m", "handoff", "agents", "add", email, "--role", role,
                          "--password-stdin"], input=password + "\n", text=True, capture_output=True,
                         cwd=REPO, env={**os.environ, "REDIS_URL": redis_url}, timeout=60)
    assert res.returncode == 0, res.stderr


class AgentClient:
    def __init__(self, base_url: str, email: str, password: str):
        self.http = httpx.Client(base_url=base_url, timeout=60)
        res = self.http.post("/api/agent/login", json={"email": email, "password": password})
        res.raise_for_status()
        self.http.headers["Authorization"] = f"Bearer {res.json()['token']}"

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.get(path, **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.post(path, **kw)


class Shopper:
    """The widget's side of /ws/chat: sends messages, collects what the server pushes."""

    def __init__(self, ws_url: str):
        self.ws: ClientConnection = connect(ws_url, open_timeout=30)
        welcome = json.loads(self.ws.recv(timeout=30))
        assert welcome["type"] == "welcome", welcome
        self.conversation_id: str = welcome["conversation_id"]
        self.received: list[dict[str, Any]] = []
        self._n = 0

    def say(self, text: str) -> dict[str, Any]:
        self._n += 1
        mid = f"m{self._n}"
        self.ws.send(json.dumps({"type": "message", "text": text, "message_id": mid}))
        return self.wait(lambda f: f.get("type") in ("ack", "error") and f.get("message_id") == mid)

    def wait(self, match: Callable[[dict[str, Any]], bool], timeout: float = 60) -> dict[str, Any]:
        for frame in self.received:
            if match(frame):
                self.received.remove(frame)
                return frame
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            frame = json.loads(self.ws.recv(timeout=max(deadline - time.monotonic(), 0.1)))
            if match(frame):
                return frame
            self.received.append(frame)
        raise AssertionError(f"nothing matched within {timeout}s; got {self.received}")

    def wait_message(self, role: str, contains: str = "", timeout: float = 60) -> dict[str, Any]:
        return self.wait(lambda f: f.get("type") == "message" and f["message"]["role"] == role
                         and contains.lower() in f["message"]["text"].lower(), timeout)["message"]

    def close(self) -> None:
        self.ws.close()
