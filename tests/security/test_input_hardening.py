"""Issue 14, three "low" findings about what the web channel accepted, on the real app and Redis.

- `?after=9223372036854775797` gave a 500 on the message routes (the Redis range overflowed), and
  a huge `after` or a frame nested 1,000 deep dropped /ws/chat without a close frame.
- Control characters (NUL, BEL, bidi overrides) were stored and shown as sent.
- `order_number` was free text in the widget's and the agents' ticket forms.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from gateway.channels.messenger import event_to_message
from gateway.channels.whatsapp import item_to_message
from handoff.desk import TICKETS_OPEN
from tests.gateway.actions_client import TOKEN, call, responses, slots
from tests.gateway.helpers import add, login, queued
from tests.gateway.web_client import Socket, new_conversation, stored

pytestmark = pytest.mark.timeout(60)
OVERFLOW = 9223372036854775797                     # int64 max - 10: the reported value
# NUL, BEL, a right-to-left override hiding ".exe", an isolate pair, a BOM, a zero-width space,
# a CR LF line break (the HTTP routes refuse lone surrogates already; the socket gets one below)
HOSTILE = "Bonjour\x00\x07 facture\u202eexe.pdf\u202c \u2066x\u2069\ufeff z\u200bw\r\nligne 2 café"
CLEAN = "Bonjour facture" + "exe.pdf x zw\nligne 2 café"
EMOJI = "merci 👍🏽 👨\u200d👩\u200d👧 \tok"    # ZWJ sequences, skin tones and tabs are text: kept


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:  # noqa: F811
    return make_client(action_token=TOKEN)


def fill(client: TestClient, slot: str, typed: str) -> Any:
    """The bot's ticket form validating what the shopper typed for `slot`."""
    return call(client, "validate_ticket_form", typed, active_loop="ticket_form",
                slots={"requested_slot": slot, slot: typed},
                events=[{"event": "user", "text": typed}, {"event": "slot", "name": slot, "value": typed}])


def raw_json(data: dict[str, Any]) -> bytes:
    """JSON with non-ASCII escaped, so a lone surrogate can travel as `\\ud800`, as attackers send it."""
    return json.dumps(data, ensure_ascii=True).encode()


# -- after ---------------------------------------------------------------------------------------------


def test_an_overflowing_after_is_422_not_500(client: TestClient, redis_server: Any) -> None:
    cid = new_conversation(client)
    for after in (OVERFLOW, -1, "1e400"):
        res = client.get(f"/api/chat/conversations/{cid}/messages", params={"after": after})
        assert res.status_code == 422, (after, res.text)
        assert [e["field"] for e in res.json()["errors"]] == ["after"]
    past_the_end = client.get(f"/api/chat/conversations/{cid}/messages", params={"after": 1_000_000})
    assert past_the_end.status_code == 200 and past_the_end.json()["messages"] == []
    add(redis_server.url, "ann@shop.example")
    ann = login(client, "ann@shop.example")
    agent_view = client.get(f"/api/agent/conversations/{cid}", params={"after": OVERFLOW}, headers=ann)
    assert agent_view.status_code == 422 and agent_view.json()["errors"][0]["field"] == "after"
    # the console asks for ?after=1000000 to get a conversation's details without its messages
    assert client.get(f"/api/agent/conversations/{cid}", params={"after": 1_000_000},
                      headers=ann).status_code == 200


@pytest.mark.parametrize("frame", [
    json.dumps({"type": "history", "after": OVERFLOW}),
    "[" * 1000 + "]" * 1000,
    '{"type": "message", "text": ' + '{"a": ' * 1000 + "1" + "}" * 1000 + "}",
    '{"type": "history", "after": ' + "[" * 3000 + "]" * 3000 + "}",
])
def test_a_hostile_frame_gets_an_error_frame_and_the_socket_lives(client: TestClient, frame: str) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        sock = Socket(ws)
        error = sock.reply(frame)
        assert (error["type"], error["status"], error["error"]) == ("error", 422, "invalid_request"), error
        assert sock.reply({"type": "ping"})["type"] == "pong"
        assert sock.reply({"type": "history", "after": 0})["type"] == "history"
        assert sock.reply({"type": "message", "text": "still here", "message_id": "m1"})["type"] == "ack"


@pytest.mark.parametrize("frame", [
    "[" * 1000 + "]" * 1000, '{"type": "auth", "token": ' + "[" * 3000 + "]" * 3000 + "}", "x" * 20000])
def test_a_hostile_first_frame_on_the_agent_socket_is_refused_with_a_close_frame(client: TestClient,
                                                                                 frame: str) -> None:
    """Before: RecursionError escaped /ws/agent's auth and dropped the socket without a close frame."""
    with client.websocket_connect("/ws/agent") as ws:
        ws.send_text(frame)
        refusal = ws.receive_json()
        assert (refusal["type"], refusal["status"]) == ("error", 401)
        closed = ws.receive()
        assert closed["type"] == "websocket.close" and closed["code"] == 4401


# -- control and bidi characters ----------------------------------------------------------------------


def test_clean_text_keeps_what_people_type() -> None:
    from conversation.message import clean_text

    assert clean_text(HOSTILE) == CLEAN
    assert clean_text("caf\ud800é") == "café"                          # not storable as UTF-8
    assert clean_text(EMOJI) == EMOJI
    assert clean_text("a\rb\u2028c\x85d") == "a\nb\nc\nd"


def test_control_characters_never_reach_the_transcript(client: TestClient, redis_client: redis.Redis) -> None:
    cid = new_conversation(client)
    res = client.post(f"/api/chat/conversations/{cid}/messages", content=raw_json({"text": HOSTILE}),
                      headers={"Content-Type": "application/json"})
    assert res.status_code == 202, res.text
    with client.websocket_connect(f"/ws/chat?conversation_id={cid}") as ws:
        sock = Socket(ws)
        sock.send(json.dumps({"type": "message", "text": HOSTILE + " (ws\ud800)", "message_id": "w1"}))
        assert sock.wait(lambda f: f["type"] in ("ack", "error"))["type"] == "ack"
        nothing = sock.reply({"type": "message", "text": "\x00\u202e\u200b\x07", "message_id": "w2"})
        assert nothing["status"] == 422                                   # nothing left: an empty message
        bad_id = sock.reply({"type": "message", "text": "hi", "message_id": "m\x00\u202e"})
        assert bad_id["status"] == 422                                    # ids are echoed: plain only
    shopper = [m["text"] for m in stored(redis_client, cid) if m["role"] == "shopper"]
    assert shopper == [CLEAN, CLEAN + " (ws)"]
    shown = client.get(f"/api/chat/conversations/{cid}/messages").json()["messages"]
    assert [m["text"] for m in shown if m["role"] == "shopper"] == shopper
    assert client.post(f"/api/chat/conversations/{cid}/messages",
                       json={"text": "hi", "message_id": "id\u202e"}).status_code == 422


def test_ticket_fields_and_agent_replies_are_cleaned(client: TestClient, redis_client: redis.Redis,
                                                     redis_server: Any) -> None:
    cid = new_conversation(client)
    form = client.post(f"/api/chat/conversations/{cid}/tickets", headers={"Content-Type": "application/json"},
                       content=raw_json({"email": "anna@example.com", "message": HOSTILE}))
    assert form.status_code == 201, form.text
    assert redis_client.hget(f"support:ticket:{form.json()['ticket_id']}", "message") == CLEAN
    add(redis_server.url, "ann@shop.example")
    ann = login(client, "ann@shop.example")
    made = client.post("/api/agent/tickets", headers={**ann, "Content-Type": "application/json"},
                       content=raw_json({"email": "anna@example.com", "message": HOSTILE}))
    assert made.status_code == 201, made.text
    assert redis_client.hget(f"support:ticket:{made.json()['ticket_id']}", "message") == CLEAN
    held = queued(client, redis_server.url)
    assert client.post(f"/api/agent/conversations/{held}/claim", headers=ann).status_code == 200
    said = client.post(f"/api/agent/conversations/{held}/messages", content=raw_json({"text": HOSTILE}),
                       headers={**ann, "Content-Type": "application/json"})
    assert said.status_code == 200, said.text
    assert [m["text"] for m in stored(redis_client, held) if m["role"] == "agent"] == [CLEAN]
    # the bot's ticket form: the message slot is cleaned when validated
    typed = "Mon colis\x07 est \u202earrivé"
    assert slots(fill(client, "ticket_message", typed))["ticket_message"] == "Mon colis est arrivé"


def test_messenger_and_whatsapp_texts_are_cleaned() -> None:
    event = {"sender": {"id": "psid-1"}, "timestamp": 1_700_000_000_000,
             "message": {"mid": "m.1", "text": HOSTILE}}
    assert event_to_message(event).text == CLEAN  # type: ignore[union-attr]
    assert event_to_message({**event, "message": {"mid": "m.2", "text": "\x00\u202e"}}) is None
    item = {"from": "33612345678", "id": "wamid.1", "timestamp": "1700000000", "type": "text",
            "text": {"body": HOSTILE}}
    assert item_to_message(item).text == CLEAN  # type: ignore[union-attr]
    assert item_to_message({**item, "id": "wamid.2", "text": {"body": "\u2066\u2069\x07"}}) is None


# -- order numbers --------------------------------------------------------------------------------------


def test_the_widget_form_accepts_only_a_real_order_number(client: TestClient,
                                                          redis_client: redis.Redis) -> None:
    cid = new_conversation(client)
    form = {"email": "anna@example.com", "message": "Mon colis est abîmé."}
    for typed in ("=HYPERLINK(\"http://evil.example\")", "<script>x</script>", "AL-12345", "n'importe quoi"):
        res = client.post(f"/api/chat/conversations/{cid}/tickets", json={**form, "order_number": typed})
        assert res.status_code == 422, (typed, res.text)
        assert res.json()["field"] == "order_number" and "AL-123456" in res.json()["message"]
    assert redis_client.zcard(TICKETS_OPEN) == 0
    ok = client.post(f"/api/chat/conversations/{cid}/tickets", json={**form, "order_number": " al 482913 "})
    assert ok.status_code == 201, ok.text
    assert redis_client.hget(f"support:ticket:{ok.json()['ticket_id']}", "order_number") == "AL-482913"
    none = client.post(f"/api/chat/conversations/{cid}/tickets", json={**form, "message": "Sans commande."})
    assert redis_client.hget(f"support:ticket:{none.json()['ticket_id']}", "order_number") == "-"   # none


def test_the_agents_ticket_form_accepts_only_a_real_order_number(client: TestClient, redis_server: Any,
                                                                 redis_client: redis.Redis) -> None:
    add(redis_server.url, "ann@shop.example")
    ann = login(client, "ann@shop.example")
    body = {"email": "shopper@example.com", "message": "Rappeler pour le remboursement"}
    bad = client.post("/api/agent/tickets", headers=ann, json={**body, "order_number": "=1+1"})
    assert bad.status_code == 422 and [e["field"] for e in bad.json()["errors"]] == ["order_number"]
    wrong_email = client.post("/api/agent/tickets", headers=ann, json={**body, "email": "not an address"})
    assert wrong_email.status_code == 422 and [e["field"] for e in wrong_email.json()["errors"]] == ["email"]
    ok = client.post("/api/agent/tickets", headers=ann, json={**body, "order_number": "482913"})
    assert ok.status_code == 201, ok.text
    assert redis_client.hget(f"support:ticket:{ok.json()['ticket_id']}", "order_number") == "AL-482913"


def test_the_bots_ticket_form_keeps_only_a_real_order_number(client: TestClient,
                                                            redis_client: redis.Redis) -> None:
    typed = "=cmd|' /C calc'!A0"
    res = fill(client, "ticket_order", typed)
    assert slots(res)["ticket_order"] is None
    assert [m["response"] for m in responses(res)] == ["utter_invalid_order_number"]
    # a slot set around the form (an entity in a typed `/intent{...}`) does not reach the ticket
    cid = new_conversation(client)
    made = call(client, "action_submit_ticket", "merci", sender=cid, slots={
        "ticket_email": "anna@example.com", "ticket_order": typed, "ticket_message": "Colis abîmé"})
    assert [m["response"] for m in responses(made)] == ["utter_ticket_created"]
    (tid,) = redis_client.zrange(TICKETS_OPEN, 0, -1)
    assert redis_client.hget(f"support:ticket:{tid}", "order_number") == "-"              # none
