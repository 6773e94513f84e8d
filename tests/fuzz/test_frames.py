"""Property-based fuzzing (hypothesis) of the WebSocket frame parsers: whatever a widget or a
console sends (random text, JSON of any shape, near-valid frames with wrong types), the server
answers each frame with exactly one ack/history/pong/error frame, never a 5xx status, and the
socket stays usable. The webhook parsers have their own fuzz tests (tests/gateway)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.gateway.web_client import (
    Socket,
    make_client,  # noqa: F401  (a fixture)
)

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: (st.lists(children, max_size=4)
                      | st.dictionaries(st.text(max_size=10), children, max_size=4)),
    max_leaves=12)
NEAR_VALID = st.fixed_dictionaries(
    {"type": st.sampled_from(["message", "history", "ping", "MESSAGE", "", "auth"]) | JSON},
    optional={"text": st.text(max_size=300) | JSON, "message_id": st.text(max_size=80) | JSON,
              "lang": st.text(max_size=8) | JSON, "after": st.integers() | JSON})
FRAMES = st.text(max_size=400) | JSON.map(json.dumps) | NEAR_VALID.map(json.dumps)
ANSWERS = {"ack", "history", "pong", "error"}


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:  # noqa: F811
    # every example opens a conversation from the one test address: budgets for a crowd
    return make_client(chat_rate=(10_000, 60), chat_address_rate=(10_000, 60), conversation_rate=(10_000, 60))


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(frames=st.lists(FRAMES, min_size=1, max_size=6))
def test_chat_socket_answers_every_frame(client: TestClient, frames: list[str]) -> None:
    with client.websocket_connect("/ws/chat?lang=fr") as ws:
        socket = Socket(ws)
        for frame in frames:
            answer = socket.reply(frame)
            assert answer["type"] in ANSWERS, answer
            if answer["type"] == "error":
                assert 400 <= answer["status"] < 500, answer
        assert socket.reply({"type": "ping"})["type"] == "pong"       # still alive


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(frame=FRAMES)
def test_agent_socket_refuses_anything_but_a_valid_login(client: TestClient, frame: str) -> None:
    with client.websocket_connect("/ws/agent") as ws:
        ws.send_text(frame)
        answer: Any = ws.receive_json()
        assert answer.get("type") == "error" and answer.get("status") in (400, 401, 413, 422), answer
