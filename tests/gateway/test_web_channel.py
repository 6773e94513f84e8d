"""The widget channel (`/ws/chat` and `/api/chat/...`) on a real app and the real session Redis.

The FAQ engine is not needed here, so the app gets an already-"ready" stub retriever (nothing
to load); Rasa is replaced after start-up by a fake bot on the router (the rest of the routing,
the transcripts, the rate limit, pub/sub and the tickets are the real ones, in Redis)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from tests.gateway.web_client import Socket, new_conversation, stored, wait_history

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(30)  # a missing frame must fail, not hang the run


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


# -- HTTP fallback ---------------------------------------------------------------------------------


def test_a_conversation_is_created_with_an_unguessable_id(client: TestClient,
                                                          redis_client: redis.Redis) -> None:
    res = client.post("/api/chat/conversations", json={"lang": "en"})
    assert res.status_code == 201
    body = res.json()
    cid = body["conversation_id"]
    assert cid.startswith("c-") and len(cid) >= 20 and body["visitor_id"].startswith("v-")
    conv = redis_client.hgetall(f"support:conv:{cid}")
    expected = {"channel": "web", "lang": "en", "state": "bot", "sender": body["visitor_id"]}
    assert expected.items() <= conv.items()
    assert client.post("/api/chat/conversations").status_code == 201          # no body at all
    assert new_conversation(client) != cid


def test_history_of_an_unknown_or_forged_conversation_is_404(client: TestClient,
                                                             redis_client: redis.Redis) -> None:
    redis_client.hset("support:conv:c-messenger0000000000000", mapping={  # real, but not on the web
        "id": "c-messenger0000000000000", "channel": "messenger", "sender": "psid", "state": "bot"})
    for cid in ("c-" + "A" * 24, "nope", "c-messenger0000000000000"):
        res = client.get(f"/api/chat/conversations/{cid}/messages")
        assert res.status_code == 404, (cid, res.text)
        assert res.json()["error"] == "not_found" and res.json()["message"]
        posted = client.post(f"/api/chat/conversations/{cid}/messages", json={"text": "hi"})
        assert posted.status_code == 404


def test_a_message_is_accepted_then_answered_and_the_history_resumes_after(client: TestClient) -> None:
    cid = new_conversation(client)
    res = client.post(f"/api/chat/conversations/{cid}/messages",
                      json={"text": "  where is my parcel?  ", "message_id": "m1", "lang": "en"})
    assert res.status_code == 202, res.text
    assert res.json() == {"message_id": "m1", "duplicate": False}
    messages = wait_history(client, cid, 2)
    assert [(m["role"], m["text"]) for m in messages] == [("shopper", "where is my parcel?"),
                                                          ("bot", "echo: where is my parcel?")]
    assert all("sender" not in m for m in messages)                        # public() hides it
    assert {"channel", "conversation_id", "role", "text", "buttons", "attachments", "files", "lang",
            "message_id", "timestamp", "author"} == set(messages[0])
    later = client.get(f"/api/chat/conversations/{cid}/messages", params={"after": 1}).json()
    assert later["after"] == 1 and later["state"] == "bot"
    assert [m["text"] for m in later["messages"]] == ["echo: where is my parcel?"]


def test_a_message_over_2000_characters_is_413(client: TestClient, redis_client: redis.Redis) -> None:
    cid = new_conversation(client)
    at_limit = client.post(f"/api/chat/conversations/{cid}/messages", json={"text": "a" * 2000})
    assert at_limit.status_code == 202
    res = client.post(f"/api/chat/conversations/{cid}/messages", json={"text": "a" * 2001})
    assert res.status_code == 413
    assert res.json() == {"error": "body_too_large", "message": "messages are limited to 2000 characters",
                          "limit": 2000}
    assert [m["role"] for m in stored(redis_client, cid)].count("shopper") == 1


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'"hello"', b"null", b'{"text": 5}', b'{"text": ""}',
                                  b"{}", b'{"message": "hi"}', b'{"text": "hi", "lang": "fr-FR-x"}'])
def test_an_invalid_message_body_is_422_never_500(client: TestClient, body: bytes) -> None:
    cid = new_conversation(client)
    res = client.post(f"/api/chat/conversations/{cid}/messages", content=body,
                      headers={"Content-Type": "application/json"})
    assert res.status_code == 422, res.text
    assert res.json()["error"] == "invalid_request" and res.json()["message"]
    assert all(set(e) == {"field", "in", "message"} for e in res.json().get("errors", []))  # no input echo


def test_a_missing_text_names_the_field(client: TestClient) -> None:
    cid = new_conversation(client)
    res = client.post(f"/api/chat/conversations/{cid}/messages", json={"message_id": "m1"})
    assert res.status_code == 422
    assert [e["field"] for e in res.json()["errors"]] == ["text"]
    blank = client.post(f"/api/chat/conversations/{cid}/messages", json={"text": "   "})
    assert blank.status_code == 422 and blank.json()["error"] == "invalid_request"


def test_an_invalid_conversation_body_is_422(client: TestClient) -> None:
    for body in (b"{not json", b"[1]", b'{"lang": "far-too-long"}'):
        res = client.post("/api/chat/conversations", content=body,
                          headers={"Content-Type": "application/json"})
        assert res.status_code == 422, (body, res.text)


def test_a_shopper_is_rate_limited_after_n_messages(make_client: Callable[..., TestClient],
                                                    redis_client: redis.Redis) -> None:
    client = make_client(chat_rate=(3, 1_000_000))  # one window for the whole test
    cid, other = new_conversation(client), new_conversation(client)
    codes = [client.post(f"/api/chat/conversations/{cid}/messages", json={"text": f"hi {i}"}).status_code
             for i in range(5)]
    assert codes == [202, 202, 202, 429, 429]
    refused = client.post(f"/api/chat/conversations/{cid}/messages", json={"text": "again"})
    assert refused.json()["error"] == "too_many_requests" and refused.json()["message"]
    assert client.post(f"/api/chat/conversations/{other}/messages", json={"text": "hi"}).status_code == 202
    texts = [m["text"] for m in stored(redis_client, cid) if m["role"] == "shopper"]
    assert texts == ["hi 0", "hi 1", "hi 2"]
    with client.websocket_connect(f"/ws/chat?conversation_id={cid}") as ws:  # the same budget on the socket
        sock = Socket(ws)
        error = sock.reply({"type": "message", "text": "over ws", "message_id": "w1"})
        assert (error["type"], error["status"], error["message_id"]) == ("error", 429, "w1")


# -- offline ticket form --------------------------------------------------------------------------


def test_the_offline_form_checks_the_email_then_saves_a_ticket(client: TestClient,
                                                               redis_client: redis.Redis) -> None:
    cid = new_conversation(client, lang="en")
    form = {"email": "not-an-address", "order_number": " AL-482913 ", "message": "My lamp arrived broken."}
    bad = client.post(f"/api/chat/conversations/{cid}/tickets", json=form)
    assert bad.status_code == 422
    assert bad.json()["error"] == "invalid_request" and bad.json()["field"] == "email"
    odd = client.post(f"/api/chat/conversations/{cid}/tickets", json={**form, "email": "a@example.com",
                                                                      "order_number": "=1+1"})
    assert odd.status_code == 422 and odd.json()["field"] == "order_number"
    assert odd.json()["example"] == "AL-123456"          # the widget says it with the shop's own format
    missing = client.post(f"/api/chat/conversations/{cid}/tickets", json={"message": "hi"})
    assert missing.status_code == 422 and [e["field"] for e in missing.json()["errors"]] == ["email"]

    res = client.post(f"/api/chat/conversations/{cid}/tickets", json={**form, "email": "Anna@Example.com"})
    assert res.status_code == 201, res.text
    ticket = res.json()
    assert ticket["ticket_id"].startswith("T-") and ticket["due"] and ticket["promise"]
    saved = redis_client.hgetall(f"support:ticket:{ticket['ticket_id']}")
    assert {"conversation_id": cid, "channel": "web", "source": "widget", "order_number": "AL-482913",
            "message": "My lamp arrived broken.", "lang": "en", "status": "open",
            "due": ticket["due"]}.items() <= saved.items()
    assert redis_client.zscore("support:tickets:open", ticket["ticket_id"]) is not None
    again = client.post(f"/api/chat/conversations/{cid}/tickets", json={**form, "email": "Anna@Example.com"})
    assert again.json()["ticket_id"] == ticket["ticket_id"]                 # a double submit: one ticket
    assert client.app.state.gateway.router.bot.tickets_sent == [cid, cid]  # the bot's forms end (one flow)
    unknown = client.post("/api/chat/conversations/c-nope/tickets", json={**form, "email": "a@example.com"})
    assert unknown.status_code == 404


def test_the_offline_form_refuses_a_blank_or_oversized_message(client: TestClient,
                                                               redis_client: redis.Redis) -> None:
    cid = new_conversation(client)
    big = client.post(f"/api/chat/conversations/{cid}/tickets",
                      json={"email": "anna@example.com", "message": "a" * 2001})
    assert big.status_code == 413 and big.json()["error"] == "body_too_large"
    blank = client.post(f"/api/chat/conversations/{cid}/tickets",
                        json={"email": "anna@example.com", "message": "   "})
    assert blank.status_code == 422, blank.text                  # an empty ticket promises nothing
    assert redis_client.zcard("support:tickets:open") == 0


_OTHER_PROCESS = """
import json, sys
from fastapi.testclient import TestClient
from gateway.app import create_app
from tests.gateway.web_client import ReadyIndex, settings_for
with TestClient(create_app(settings_for(sys.argv[1]), retrieval=ReadyIndex())) as c:
    res = c.post(f"/api/chat/conversations/{sys.argv[2]}/tickets", json=json.loads(sys.argv[3]))
    print(json.dumps(res.json()))
"""


def test_the_same_offline_form_sent_to_two_gateway_processes_makes_one_ticket(
        client: TestClient, redis_server: Any, redis_client: redis.Redis) -> None:
    """Gateways run as several processes (and restart): a retried form post may land on another one."""
    cid = new_conversation(client)
    form = {"email": "anna@example.com", "message": "Where is my order?"}
    first = client.post(f"/api/chat/conversations/{cid}/tickets", json=form).json()["ticket_id"]
    other = subprocess.run(
        [sys.executable, "-c", _OTHER_PROCESS, redis_server.url, cid, json.dumps(form)], cwd=REPO,
        env={**os.environ, "PYTHONHASHSEED": "12345"}, capture_output=True, text=True, timeout=25)
    assert other.returncode == 0, other.stderr[-2000:]
    assert json.loads(other.stdout.strip().splitlines()[-1])["ticket_id"] == first
    assert redis_client.zcard("support:tickets:open") == 1


def test_the_agent_api_needs_a_token(client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer forged"}):
        res = client.get("/api/agent/queue", headers=headers)
        assert res.status_code == 401
        assert res.json()["error"] == "unauthorized"


# -- WebSocket --------------------------------------------------------------------------------------


def test_a_socket_gets_a_welcome_then_acks_and_replies(client: TestClient, redis_client: redis.Redis) -> None:
    with client.websocket_connect("/ws/chat?lang=en") as ws:
        sock = Socket(ws)
        cid = sock.welcome["conversation_id"]
        assert sock.welcome == {"type": "welcome", "conversation_id": cid, "state": "bot", "resumed": False}
        assert redis_client.hget(f"support:conv:{cid}", "lang") == "en"
        assert sock.reply({"type": "ping"})["type"] == "pong"
        ack = sock.reply({"type": "message", "text": "hello there", "message_id": "m1"})
        assert ack == {"type": "ack", "message_id": "m1", "duplicate": False}
        mine = sock.message("shopper", "hello there")              # echoed to every tab
        answer = sock.message("bot", "echo: hello there")
        assert "sender" not in answer and answer["conversation_id"] == cid and mine["role"] == "shopper"


def test_a_resent_message_id_is_acked_as_duplicate_and_stored_once(client: TestClient,
                                                                   redis_client: redis.Redis) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        sock = Socket(ws)
        cid = sock.welcome["conversation_id"]
        frame = {"type": "message", "text": "is it in stock?", "message_id": "m-42"}
        assert sock.reply(frame) == {"type": "ack", "message_id": "m-42", "duplicate": False}
        sock.message("bot", "echo: is it in stock?")
    with client.websocket_connect(f"/ws/chat?conversation_id={cid}") as ws:  # reconnected, resends
        sock = Socket(ws)
        assert sock.reply(frame) == {"type": "ack", "message_id": "m-42", "duplicate": True}
        assert sock.reply({**frame, "message_id": ""})["duplicate"] is False  # no id: a new message
    wait_history(client, cid, 4)
    texts = [m["text"] for m in stored(redis_client, cid)]
    assert texts.count("is it in stock?") == 2 and texts.count("echo: is it in stock?") == 2


def test_a_socket_resumes_its_conversation_and_refetches_history(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        first = Socket(ws)
        cid = first.welcome["conversation_id"]
        first.reply({"type": "message", "text": "first question", "message_id": "m1"})
        first.message("bot", "echo: first question")
    with client.websocket_connect(f"/ws/chat?conversation_id={cid}") as ws:
        again = Socket(ws)
        assert again.welcome == {"type": "welcome", "conversation_id": cid, "state": "bot", "resumed": True}
        history = again.reply({"type": "history"})
        assert history["after"] == 0
        assert [(m["role"], m["text"]) for m in history["messages"]] == [
            ("shopper", "first question"), ("bot", "echo: first question")]
        assert [m["text"] for m in again.reply({"type": "history", "after": 1})["messages"]] == [
            "echo: first question"]
        assert again.reply({"type": "history", "after": -3})["after"] == 0
    with client.websocket_connect("/ws/chat?conversation_id=c-forged-or-expired") as ws:
        fresh = Socket(ws)
        assert fresh.welcome["resumed"] is False and fresh.welcome["conversation_id"] != cid


def test_two_tabs_on_one_conversation_both_see_the_replies(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws1:
        tab1 = Socket(ws1)
        cid = tab1.welcome["conversation_id"]
        with client.websocket_connect(f"/ws/chat?conversation_id={cid}") as ws2:
            tab2 = Socket(ws2)
            tab2.reply({"type": "ping"})  # subscribed by the time it answers
            tab1.reply({"type": "message", "text": "from tab 1", "message_id": "t1"})
            for tab in (tab1, tab2):
                tab.message("shopper", "from tab 1")
                tab.message("bot", "echo: from tab 1")


@pytest.mark.parametrize(("frame", "status"), [
    ("this is not json", 422),
    ("[1, 2, 3]", 422),
    ('"a string"', 422),
    ('{"type": "shout", "text": "hi"}', 422),
    ('{"no": "type"}', 422),
    ('{"type": "message"}', 422),
    ('{"type": "message", "text": 12}', 422),
    ('{"type": "message", "text": "hi", "message_id": "' + "x" * 65 + '"}', 422),
    ('{"type": "message", "text": "   "}', 422),
    (json.dumps({"type": "message", "text": "a" * 2001, "message_id": "long"}), 413),
    (json.dumps({"type": "message", "text": "a" * 9000}), 413),
    ("x" * (8 * 1024 + 1), 413),
])
def test_a_bad_frame_gets_an_error_frame_and_the_socket_stays_usable(client: TestClient, frame: str,
                                                                      status: int) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        sock = Socket(ws)
        error = sock.reply(frame)
        assert error["type"] == "error" and error["status"] == status and error["message"], error
        assert error["error"] == {413: "body_too_large", 422: "invalid_request"}[status]
        assert sock.reply({"type": "ping"})["type"] == "pong"
        ack = sock.reply({"type": "message", "text": "still here", "message_id": "after"})
        assert ack == {"type": "ack", "message_id": "after", "duplicate": False}


def test_a_message_error_frame_names_the_message_it_refuses(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        sock = Socket(ws)
        error = sock.reply({"type": "message", "text": "a" * 2001, "message_id": "m-big"})
        assert (error["status"], error["message_id"]) == (413, "m-big")


def test_a_binary_frame_gets_an_error_frame_and_the_socket_stays_usable(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        sock = Socket(ws)
        ws.send_bytes(json.dumps({"type": "ping"}).encode())
        error = sock.wait(lambda f: f["type"] in ("error", "pong"))
        assert error["type"] == "error" and error["status"] == 422, error
        assert sock.reply({"type": "ping"})["type"] == "pong"


# -- what the widget may see -------------------------------------------------------------------------


def test_the_widget_never_sees_an_agents_email(client: TestClient, redis_client: redis.Redis) -> None:
    """public(): "no internal agent ids". Agents are identified by their e-mail internally."""
    state = client.app.state.gateway
    cid = new_conversation(client)
    agent = "marie.dupont@shop.example"
    redis_client.hset(f"support:conv:{cid}", mapping={"state": "agent", "agent": agent})
    portal = client.portal
    assert portal is not None
    portal.call(state.router.agent_says, cid, agent, "Hello, I am looking at your order.")
    portal.call(state.router.closed, cid, agent)
    history = client.get(f"/api/chat/conversations/{cid}/messages").json()["messages"]
    assert [m["role"] for m in history][:1] == ["agent"] and history[0]["author"] == "agent"
    assert agent not in json.dumps(history), [m for m in history if agent in json.dumps(m)]
