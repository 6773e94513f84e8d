"""Typing indicators over the sockets (issue 19, live presence), on a real app and the session Redis
with the echo bot: the shopper's signal reaches the consoles, the agent's reaches the widget with
the agent's display name only; the frame is validated, budgeted, never stored nor counted, and
refused for a conversation the sender does not hold. Two gateway apps (two pub/sub hubs, as two
processes would have) show the fan-out; a Messenger conversation also gets Messenger's own
typing bubble, on the fake Graph API."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession

from conversation.transcript import Transcripts
from gateway.channels.graph import GraphClient
from gateway.channels.messenger import MessengerSender
from gateway.channels.meta import MetaSettings
from gateway.typing_signals import SIDE_RATE
from handoff.accounts import Accounts
from handoff.desk import HandoffRequest, HelpDesk
from tests.fakes.graph_server import FakeGraph
from tests.gateway.web_client import Socket, new_conversation, stored

from .helpers import PASSWORD, add_accounts, on_redis

pytestmark = pytest.mark.timeout(60)
ANN, BEN, BOSS = "ann@shop.example", "ben@shop.example", "boss@shop.example"


@pytest.fixture
def gateways(make_client: Callable[..., TestClient],  # noqa: F811
             redis_server: Any) -> tuple[TestClient, TestClient]:
    first = make_client()
    on_redis(redis_server.url, lambda r: Accounts(r).add(ANN, PASSWORD, name="Ann"))
    on_redis(redis_server.url, lambda r: Accounts(r).add(BEN, PASSWORD, name="ben@elsewhere.example"))
    add_accounts(redis_server.url, boss="admin")
    return first, make_client()


def token(api: TestClient, email: str) -> str:
    res = api.post("/api/agent/login", json={"email": email, "password": PASSWORD})
    assert res.status_code == 200, res.text
    return res.json()["token"]  # type: ignore[no-any-return]


def queued(api: TestClient, redis_url: str, cid: str = "") -> str:
    cid = cid or new_conversation(api, lang="fr")
    on_redis(redis_url, lambda r: HelpDesk(r).request_handoff(
        HandoffRequest(cid, "fr", "returns/process", "je veux retourner un vase", "asked")))
    return cid


def held_by(api: TestClient, redis_url: str, email: str, cid: str = "") -> str:
    cid = queued(api, redis_url, cid)
    res = api.post(f"/api/agent/conversations/{cid}/claim",
                   headers={"Authorization": f"Bearer {token(api, email)}"})
    assert res.status_code == 200, res.text
    return cid


@contextlib.contextmanager
def console(api: TestClient, email: str) -> Iterator[WebSocketTestSession]:
    with api.websocket_connect("/ws/agent") as ws:
        ws.send_json({"type": "auth", "token": token(api, email)})
        assert ws.receive_json()["type"] == "ready"
        yield ws


@contextlib.contextmanager
def widget(api: TestClient, cid: str) -> Iterator[Socket]:
    with api.websocket_connect(f"/ws/chat?conversation_id={cid}") as ws:
        socket = Socket(ws)
        assert socket.welcome["conversation_id"] == cid
        yield socket


def next_of(ws: WebSocketTestSession, kind: str) -> dict[str, Any]:
    """The next frame of `kind`, skipping the feed's other events."""
    while True:
        frame = ws.receive_json()
        if frame.get("type") == kind:
            return frame  # type: ignore[no-any-return]


def typing(state: str = "start", **extra: Any) -> dict[str, Any]:
    return {"type": "typing", "state": state, **extra}


# -- the shopper types: every console (through any gateway) hears it ------------------------------


def test_the_shoppers_typing_reaches_a_console_on_another_gateway(gateways: tuple[TestClient, TestClient],
                                                                  redis_server: Any) -> None:
    one, two = gateways
    bot_only = new_conversation(one, lang="fr")                         # no agent involved: nobody to tell
    cid = held_by(one, redis_server.url, ANN)
    with console(two, ANN) as feed:
        with widget(one, bot_only) as idle:
            idle.send(typing())
            assert idle.reply({"type": "ping"})["type"] == "pong"       # no answer to a typing frame
        with widget(one, cid) as shopper:
            shopper.send(typing(conversation_id=bot_only))              # a cid in the frame is ignored
            shopper.send(typing("stop"))
            assert shopper.reply({"type": "ping"})["type"] == "pong"
        # the bot conversation's signal was dropped: the first one the console hears is this one
        assert next_of(feed, "typing") == {"type": "typing", "conversation_id": cid, "role": "shopper",
                                           "state": "start", "agent": ANN}
        assert next_of(feed, "typing")["state"] == "stop"


@pytest.mark.parametrize("frame", [
    {"type": "typing"}, {"type": "typing", "state": "typing"}, {"type": "typing", "state": True},
    {"type": "typing", "state": ["start"]}, {"type": "typing", "state": "START"},
])
def test_a_malformed_typing_frame_is_422_and_the_socket_stays(
        gateways: tuple[TestClient, TestClient], redis_server: Any, frame: dict[str, Any]) -> None:
    one, _ = gateways
    cid = held_by(one, redis_server.url, ANN)
    with widget(one, cid) as shopper:
        error = shopper.reply(frame)
        assert (error["type"], error["status"], error["for"]) == ("error", 422, "typing"), error
        assert shopper.reply({"type": "ping"})["type"] == "pong"
    with console(one, ANN) as ws:
        ws.send_json({**frame, "conversation_id": cid})
        error = next_of(ws, "error")
        assert (error["status"], error["for"], error["conversation_id"]) == (422, "typing", cid)
        for bad_cid in (None, 42, "", "x" * 65, "not-a-conversation", ["c-1"]):
            ws.send_json({"type": "typing", "state": "start", "conversation_id": bad_cid})
            assert next_of(ws, "error")["status"] == 422, bad_cid
        ws.send_text("{not json")
        assert next_of(ws, "error")["status"] == 422
        ws.send_json({"type": "ping"})
        assert next_of(ws, "pong") == {"type": "pong"}


def test_typing_is_budgeted_per_conversation_side(gateways: tuple[TestClient, TestClient],
                                                  redis_server: Any) -> None:
    one, _ = gateways
    cid = held_by(one, redis_server.url, ANN)
    budget, _window = SIDE_RATE
    with widget(one, cid) as shopper:
        refused = None
        for _ in range(budget + 1):
            shopper.send(typing())
        refused = shopper.reply({"type": "ping"})
        assert refused["type"] == "error", refused                      # the one over budget
        assert (refused["status"], refused["for"]) == (429, "typing") and refused["retry_after_s"] >= 1
        assert shopper.wait(lambda f: f["type"] == "pong")
    with console(one, ANN) as ws:                                       # the agent's side has its own
        for _ in range(budget):
            ws.send_json(typing(conversation_id=cid))
        ws.send_json(typing(conversation_id=cid))
        error = next_of(ws, "error")
        assert (error["status"], error["for"], error["conversation_id"]) == (429, "typing", cid)
        assert error["retry_after_s"] >= 1


def test_typing_is_never_stored_nor_counted(gateways: tuple[TestClient, TestClient], redis_server: Any,
                                            redis_client: redis.Redis) -> None:
    one, _ = gateways
    cid = held_by(one, redis_server.url, ANN)
    state = one.app.state.gateway
    before = (stored(redis_client, cid), redis_client.hgetall(f"support:conv:{cid}"))
    counted: list[Any] = []
    real_emit, real_count = state.recorder.emit, state.metrics.message
    state.recorder.emit = lambda *a, **k: counted.append((a, k))
    state.metrics.message = lambda *a, **k: counted.append((a, k))
    try:
        with console(one, ANN) as ws, widget(one, cid) as shopper:
            shopper.send(typing())
            assert next_of(ws, "typing")["role"] == "shopper"
            ws.send_json(typing(conversation_id=cid))
            assert shopper.wait(lambda f: f["type"] == "typing")["role"] == "agent"
            shopper.send(typing("stop"))
            assert next_of(ws, "typing")["state"] == "stop"
    finally:
        state.recorder.emit, state.metrics.message = real_emit, real_count
    assert (stored(redis_client, cid), redis_client.hgetall(f"support:conv:{cid}")) == before
    assert counted == []
    history = one.get(f"/api/chat/conversations/{cid}/messages").json()["messages"]
    assert [m for m in history if "typing" in json.dumps(m)] == []


# -- the agent types: the shopper sees a name, never an e-mail --------------------------------------


def test_the_agents_typing_reaches_the_widget_with_the_display_name_only(
        gateways: tuple[TestClient, TestClient], redis_server: Any) -> None:
    one, two = gateways
    cid = held_by(one, redis_server.url, ANN)
    with widget(one, cid) as shopper:
        with console(two, ANN) as ws:
            ws.send_json(typing(conversation_id=cid))
            assert shopper.wait(lambda f: f["type"] == "typing") == {
                "type": "typing", "role": "agent", "state": "start", "name": "Ann"}
            ws.send_json(typing("stop", conversation_id=cid))
            assert shopper.wait(lambda f: f["type"] == "typing")["state"] == "stop"
        # an admin may type in a held conversation; a name that is an e-mail is never shown
        on_redis(redis_server.url, lambda r: HelpDesk(r).transfer(cid, ANN, BEN))
        with console(two, BEN) as ws:
            ws.send_json(typing(conversation_id=cid))
            assert shopper.wait(lambda f: f["type"] == "typing")["name"] == ""
        with console(two, BOSS) as ws:
            ws.send_json(typing(conversation_id=cid))
            frame = shopper.wait(lambda f: f["type"] == "typing")
            assert frame["role"] == "agent" and "@" not in json.dumps(frame)


def test_an_agent_may_not_type_in_a_conversation_they_do_not_hold(gateways: tuple[TestClient, TestClient],
                                                                 redis_server: Any) -> None:
    one, _ = gateways
    mine = held_by(one, redis_server.url, ANN)
    waiting = queued(one, redis_server.url)                             # nobody holds it: not even an admin
    with widget(one, mine) as shopper:
        for email, cid in ((BEN, mine), (ANN, waiting), (BOSS, waiting), (BEN, "c-" + "x" * 24)):
            with console(one, email) as ws:
                ws.send_json(typing(conversation_id=cid))
                error = next_of(ws, "error")
                assert (error["status"], error["for"], error["conversation_id"]) == (403, "typing", cid)
        with console(one, ANN) as ws:
            ws.send_json(typing("stop", conversation_id=mine))
            # nothing of the refused ones reached the shopper: the first signal it gets is Ann's
            # stop (waited for with the console open: closing it at once could drop the frame
            # before the gateway read it)
            assert shopper.wait(lambda f: f["type"] == "typing") == {
                "type": "typing", "role": "agent", "state": "stop", "name": "Ann"}


def test_a_signed_out_console_cannot_type(gateways: tuple[TestClient, TestClient], redis_server: Any) -> None:
    one, _ = gateways
    cid = held_by(one, redis_server.url, ANN)
    ann = token(one, ANN)
    with one.websocket_connect("/ws/agent") as ws:
        ws.send_json(typing(conversation_id=cid))                      # before auth: refused, closed
        assert ws.receive_json()["status"] == 401
    with one.websocket_connect("/ws/agent") as ws:
        ws.send_json({"type": "auth", "token": ann})
        assert ws.receive_json()["type"] == "ready"
        assert one.post("/api/agent/logout", headers={"Authorization": f"Bearer {ann}"}).status_code == 200
        ws.send_json(typing(conversation_id=cid))
        frames = []
        with contextlib.suppress(Exception):
            while True:
                frames.append(ws.receive_json())
        assert [f for f in frames if f.get("status") == 401], frames
        assert not [f for f in frames if f.get("type") == "typing"]


# -- Messenger: its own typing bubble, at most every few seconds ------------------------------------


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    with FakeGraph(app_secret="app-secret", page_token="page-token") as server:
        yield server


def test_an_agent_typing_to_messenger_shows_messengers_bubble_once(
        gateways: tuple[TestClient, TestClient], redis_server: Any, graph: FakeGraph) -> None:
    one, _ = gateways
    settings = MetaSettings(app_secret="app-secret", messenger_verify_token="verify-me",
                            messenger_page_token="page-token", graph_api_base=graph.base_url,
                            graph_api_version=graph.version)
    cid = on_redis(redis_server.url, lambda r: Transcripts(r).open("messenger", "24035613799426"))
    held_by(one, redis_server.url, ANN, cid)
    # Messenger from here on (the "has joined" notice went nowhere: this is about typing only)
    sender = MessengerSender(GraphClient(settings, backoff=0.01), settings)
    one.app.state.gateway.senders["messenger"] = sender
    graph.reset()
    with console(one, ANN) as ws:
        ws.send_json(typing(conversation_id=cid))
        ws.send_json(typing(conversation_id=cid))                       # within the 8 s: not again
        ws.send_json(typing("stop", conversation_id=cid))
        ws.send_json({"type": "ping"})
        next_of(ws, "pong")
    deadline = time.monotonic() + 10
    while not graph.calls_to("messenger") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [c.body for c in graph.calls_to("messenger")] == [
        {"recipient": {"id": "24035613799426"}, "sender_action": "typing_on"}]
