"""Issue 14, "agent feed survives logout": an authenticated `/ws/agent` kept receiving customer
messages, and its pings set the agent back online, after `POST /api/agent/logout`; the same after
a password change or the account's removal (which the CLI does from another process).

Two real gateway apps on the session Redis (each with its own pub/sub hub, as two processes
would have), the echo bot instead of Rasa: the socket is opened on one gateway, the session
ended through the other or through Accounts on a separate Redis connection."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from handoff.accounts import Accounts
from handoff.desk import HandoffRequest, HelpDesk
from tests.gateway.helpers import PASSWORD, add_accounts, on_redis
from tests.gateway.web_client import new_conversation

pytestmark = pytest.mark.timeout(60)
ANN = "ann@shop.example"


run = on_redis


@pytest.fixture
def gateways(make_client: Callable[..., TestClient],  # noqa: F811
             redis_server: Any) -> tuple[TestClient, TestClient]:
    first = make_client()
    add_accounts(redis_server.url, ann="agent")
    return first, make_client()


def login(api: TestClient) -> str:
    res = api.post("/api/agent/login", json={"email": ANN, "password": PASSWORD})
    assert res.status_code == 200, res.text
    return res.json()["token"]  # type: ignore[no-any-return]


def queued(api: TestClient, redis_url: str) -> str:
    """A conversation waiting for an agent: its shopper messages go to every console."""
    cid = new_conversation(api, lang="fr")
    run(redis_url, lambda r: HelpDesk(r).request_handoff(
        HandoffRequest(cid, "fr", "returns/process", "je veux retourner un vase", "asked")))
    return cid


def shopper_says(api: TestClient, cid: str, text: str) -> None:
    assert api.post(f"/api/chat/conversations/{cid}/messages", json={"text": text}).status_code == 202


@contextlib.contextmanager
def console(api: TestClient, token: str) -> Iterator[WebSocketTestSession]:
    with api.websocket_connect("/ws/agent") as ws:
        ws.send_json({"type": "auth", "token": token})
        assert ws.receive_json() == {"type": "ready", "agent": ANN}
        yield ws


def wait_for_message(ws: WebSocketTestSession, text: str) -> None:
    while True:
        event = ws.receive_json()
        if event.get("type") == "message" and event["message"]["text"] == text:
            return


def after_the_end(ws: WebSocketTestSession, marker: str) -> tuple[list[dict[str, Any]], int | None]:
    """Frames until the socket closes (and its close code) or, if it stays open, until the
    customer's `marker` message arrives (code None): what a revoked console still gets."""
    frames: list[dict[str, Any]] = []
    try:
        while True:
            frames.append(ws.receive_json())
            last = frames[-1]
            if last.get("type") == "pong" or (last.get("type") == "message"
                                              and last["message"]["text"] == marker):
                return frames, None
    except WebSocketDisconnect as closed:
        return frames, closed.code


def presence(redis_url: str) -> str:
    return run(redis_url, lambda r: HelpDesk(r).presence(ANN))  # type: ignore[no-any-return]


def test_logout_on_another_gateway_closes_the_feed_and_leaves_the_agent_offline(
        gateways: tuple[TestClient, TestClient], redis_server: Any) -> None:
    one, two = gateways
    token = login(one)
    cid = queued(one, redis_server.url)
    with console(two, token) as ws:
        shopper_says(one, cid, "avant")
        wait_for_message(ws, "avant")                                  # the feed works
        assert one.post("/api/agent/logout", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        with contextlib.suppress(Exception):
            ws.send_json({"type": "ping"})                             # used to heartbeat her back online
        shopper_says(one, cid, "après la déconnexion")
        frames, code = after_the_end(ws, "après la déconnexion")
    assert code == 4401, frames
    assert not [f for f in frames if f.get("type") in ("message", "pong")]
    assert frames[-1]["status"] == 401
    assert presence(redis_server.url) == "offline"


def test_logging_out_one_tab_leaves_the_other_sessions_feed_open(
        gateways: tuple[TestClient, TestClient], redis_server: Any) -> None:
    one, two = gateways
    leaving, staying = login(one), login(one)
    cid = queued(one, redis_server.url)
    with console(two, leaving) as gone, console(two, staying) as ws:
        one.post("/api/agent/logout", headers={"Authorization": f"Bearer {leaving}"})
        _, code = after_the_end(gone, "never")
        assert code == 4401
        shopper_says(one, cid, "toujours là ?")
        wait_for_message(ws, "toujours là ?")                          # the other tab still follows


@pytest.mark.parametrize("ending", ["password change", "removal"])
def test_password_change_or_removal_from_the_cli_closes_the_feed(
        gateways: tuple[TestClient, TestClient], redis_server: Any, ending: str) -> None:
    one, two = gateways
    token = login(one)
    cid = queued(one, redis_server.url)
    with console(two, token) as ws:
        shopper_says(one, cid, "avant")
        wait_for_message(ws, "avant")
        if ending == "password change":
            run(redis_server.url, lambda r: Accounts(r).set_password(ANN, "a brand new passphrase"))
        else:
            assert run(redis_server.url, lambda r: Accounts(r).remove(ANN))
        shopper_says(one, cid, "un secret")
        frames, code = after_the_end(ws, "un secret")
    assert code == 4401, frames
    assert not [f for f in frames if f.get("type") == "message"]
    assert presence(redis_server.url) == "offline"


def test_an_ended_session_cannot_open_a_feed(gateways: tuple[TestClient, TestClient]) -> None:
    one, two = gateways
    token = login(one)
    one.post("/api/agent/logout", headers={"Authorization": f"Bearer {token}"})
    with two.websocket_connect("/ws/agent") as ws:
        ws.send_json({"type": "auth", "token": token})
        assert ws.receive_json()["status"] == 401
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 4401
