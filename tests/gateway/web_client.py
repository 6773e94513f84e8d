"""The widget's side of the web channel for tests: an app on the session Redis with the echo
bot instead of Rasa (`make_client`), and a WebSocket client that keeps early frames."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession

from gateway.app import create_app
from gateway.settings import Settings
from retrieval.engine import SearchResult
from tests.fakes.bots import EchoBot

REPO = Path(__file__).resolve().parents[2]


class ReadyIndex:
    """Stands in for the RetrievalService: already started, so the app neither loads nor stops it."""

    ready = True

    def status(self) -> dict[str, Any]:
        return {"ready": True, "index_version": "stub", "entries": 0, "model": None, "thresholds": None,
                "reloads": 0, "last_reload_at": None, "kb_errors": []}

    def search(self, query: str, lang: str | None = None, k: int = 3,
               context: str | None = None) -> SearchResult:
        """An empty KB: nothing matches (tickets keep their conversation's reason)."""
        return SearchResult(query=query, query_lang=lang, lang=None, band="none", index_version="stub")

    def taxonomy(self) -> list[tuple[str, str]]:
        return []


def settings_for(redis_url: str, **overrides: Any) -> Settings:
    return Settings(**{"redis_url": redis_url, "shop_config": REPO / "config" / "shop.yml", **overrides})


@pytest.fixture
def make_client(redis_server: Any, redis_client: redis.Redis) -> Iterator[Callable[..., TestClient]]:
    """`make_client(**settings)`: a started app on an emptied session Redis, with the echo bot."""
    opened: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        client = TestClient(create_app(settings_for(redis_server.url, **overrides), retrieval=ReadyIndex()))
        client.__enter__()
        opened.append(client)
        client.app.state.gateway.router.bot = EchoBot()
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


def new_conversation(client: TestClient, **body: Any) -> str:
    res = client.post("/api/chat/conversations", json=body or None)
    assert res.status_code == 201, res.text
    return res.json()["conversation_id"]  # type: ignore[no-any-return]


def stored(redis_client: redis.Redis, cid: str) -> list[dict[str, Any]]:
    return [json.loads(m) for m in redis_client.lrange(f"support:conv:{cid}:log", 0, -1)]


def wait_history(client: TestClient, cid: str, count: int, timeout: float = 10) -> list[dict[str, Any]]:
    """The HTTP history once it holds `count` messages (bot turns run in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        res = client.get(f"/api/chat/conversations/{cid}/messages")
        assert res.status_code == 200, res.text
        messages = res.json()["messages"]
        if len(messages) >= count or time.monotonic() > deadline:
            assert len(messages) == count, messages
            return messages  # type: ignore[no-any-return]
        time.sleep(0.01)


class Socket:
    """A widget on /ws/chat: frames that arrive while waiting for another are kept for later."""

    def __init__(self, ws: WebSocketTestSession):
        self.ws = ws
        self.pending: list[dict[str, Any]] = []
        self.welcome = ws.receive_json()
        assert self.welcome["type"] == "welcome", self.welcome

    def send(self, frame: Any) -> None:
        self.ws.send_text(frame if isinstance(frame, str) else json.dumps(frame))

    def wait(self, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        for frame in self.pending:
            if match(frame):
                self.pending.remove(frame)
                return frame
        while True:
            frame = self.ws.receive_json()
            if match(frame):
                return frame
            self.pending.append(frame)

    def reply(self, frame: Any) -> dict[str, Any]:
        """Sends a frame and returns the direct answer to it (ack, history, pong or error)."""
        self.send(frame)
        return self.wait(lambda f: f["type"] in ("ack", "history", "pong", "error"))

    def message(self, role: str, text: str) -> dict[str, Any]:
        return self.wait(lambda f: f["type"] == "message" and f["message"]["role"] == role
                         and f["message"]["text"] == text)["message"]


