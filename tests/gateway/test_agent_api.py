"""The agent API on a real app and the real session Redis: login, presence, transfer between
agents and back to the queue, roles, messages limits, agent-made tickets, logout."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from handoff.desk import HelpDesk
from tests.gateway.web_client import new_conversation

from .helpers import add, login, on_redis, queued

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def api(make_client: Callable[..., TestClient]) -> TestClient:  # noqa: F811
    return make_client()




def test_login_presence_and_logout(api: TestClient, redis_server: Any) -> None:
    add(redis_server.url, "ann@shop.example")
    assert api.post("/api/agent/login", json={"email": "ann@shop.example", "password": "wrong password"}
                       ).status_code == 401
    ann = login(api, "ann@shop.example")
    me = api.get("/api/agent/me", headers=ann).json()
    assert me["presence"] == "online" and me["role"] == "agent"
    assert on_redis(redis_server.url, lambda r: HelpDesk(r).agents_online()) == 1
    assert api.post("/api/agent/presence", json={"status": "away"}, headers=ann).status_code == 200
    assert on_redis(redis_server.url, lambda r: HelpDesk(r).agents_online()) == 0  # the bot won't promise her
    assert api.post("/api/agent/presence", json={"status": "busy?"}, headers=ann).status_code == 422
    assert api.post("/api/agent/logout", headers=ann).status_code == 200
    assert api.get("/api/agent/me", headers=ann).status_code == 401


def test_transfer_to_a_colleague_then_back_to_the_queue(api: TestClient, redis_server: Any,
                                                         redis_client: redis.Redis) -> None:
    for email in ("ann@shop.example", "ben@shop.example"):
        add(redis_server.url, email)
    ann, ben = login(api, "ann@shop.example"), login(api, "ben@shop.example")
    cid = queued(api, redis_server.url)
    waiting = api.get("/api/agent/queue", headers=ann).json()["queue"]
    assert waiting[0]["summary"] == "je veux retourner un vase"
    assert api.post("/api/agent/queue/claim", headers=ann).json()["conversation_id"] == cid
    assert api.post("/api/agent/queue/claim", headers=ben).status_code == 404        # nobody else waits
    assert api.post(f"/api/agent/conversations/{cid}/messages", json={"text": "hi"},
                       headers=ben).status_code == 403                                   # not his
    moved = api.post(f"/api/agent/conversations/{cid}/transfer", json={"to": "ben@shop.example"},
                     headers=ann)
    assert moved.status_code == 200, moved.text
    assert api.post(f"/api/agent/conversations/{cid}/messages", json={"text": "Ben here"},
                       headers=ben).status_code == 200
    refused = api.post(f"/api/agent/conversations/{cid}/messages", json={"text": "x"}, headers=ann)
    assert refused.status_code == 403
    assert refused.json()["key"] == "not_holder"           # the console's text for it (gateway/errors.py)
    too_long = api.post(f"/api/agent/conversations/{cid}/messages", json={"text": "x" * 2001}, headers=ben)
    assert too_long.status_code == 413
    assert (too_long.json()["key"], too_long.json()["limit"]) == ("text_too_long", 2000)
    back = api.post(f"/api/agent/conversations/{cid}/transfer", json={"to": ""}, headers=ben)
    assert back.status_code == 200
    assert [q["conversation_id"] for q in api.get("/api/agent/queue", headers=ann).json()["queue"]] == [cid]
    seen = api.get(f"/api/agent/conversations/{cid}", headers=ann).json()["messages"]
    events = [m["author"] for m in seen if m["role"] == "system"]
    assert events.count("transferred") == 2
    assert redis_client.hget(f"support:conv:{cid}", "state") == "queued"


def test_an_admin_may_close_a_colleagues_conversation(api: TestClient, redis_server: Any) -> None:
    add(redis_server.url, "ann@shop.example")
    add(redis_server.url, "boss@shop.example", role="admin")
    ann, boss = login(api, "ann@shop.example"), login(api, "boss@shop.example")
    cid = queued(api, redis_server.url)
    api.post(f"/api/agent/conversations/{cid}/claim", headers=ann)
    taken = api.post(f"/api/agent/conversations/{cid}/claim", headers=boss)
    assert taken.status_code == 409 and taken.json()["error"] == "conflict"      # the code clients branch on
    assert taken.json()["key"] == "claimed_elsewhere"
    closed = api.post(f"/api/agent/conversations/{cid}/close", headers=boss)
    assert closed.status_code == 200, closed.text
    assert api.get("/api/agent/me", headers=ann).json()["conversations"] == []


def test_agent_made_ticket_and_no_mail_configured(api: TestClient, redis_server: Any) -> None:
    add(redis_server.url, "ann@shop.example")
    ann = login(api, "ann@shop.example")
    cid = new_conversation(api, lang="en")
    made = api.post("/api/agent/tickets", headers=ann, json={
        "conversation_id": cid, "email": "shopper@example.com", "message": "Call back about the refund",
        "lang": "en"})
    assert made.status_code == 201, made.text
    tid = made.json()["ticket_id"]
    listed = api.get("/api/agent/tickets", headers=ann).json()["tickets"]
    assert [(t["id"], t["source"], t["overdue"]) for t in listed] == [(tid, "agent", False)]
    assert api.get(f"/api/agent/tickets/{tid}", headers=ann).json()["can_email"] is False   # said first
    reply = api.post(f"/api/agent/tickets/{tid}/reply", json={"text": "Done"}, headers=ann)
    assert reply.status_code == 503 and "SMTP_URL" in reply.json()["message"]
    assert api.post("/api/agent/tickets", headers=ann, json={
        "conversation_id": "c-unknown", "email": "a@example.com", "message": "x"}).status_code == 404


def test_the_console_feed_needs_a_token_then_streams_events(api: TestClient, redis_server: Any) -> None:
    add(redis_server.url, "ann@shop.example")
    ann = login(api, "ann@shop.example")
    with api.websocket_connect("/ws/agent") as ws:
        ws.send_json({"type": "auth", "token": "forged"})
        assert ws.receive_json()["status"] == 401
    with api.websocket_connect("/ws/agent") as ws:
        ws.send_json({"type": "auth", "token": ann["Authorization"].split()[1]})
        assert ws.receive_json() == {"type": "ready", "agent": "ann@shop.example"}
        cid = queued(api, redis_server.url)
        assert api.post(f"/api/agent/conversations/{cid}/claim", headers=ann).status_code == 200
        kinds = []
        while "claimed" not in kinds:
            event = ws.receive_json()
            kinds.append(event["type"])
            assert event.get("conversation_id") == cid
        ws.send_json({"type": "ping"})


def test_the_agent_list_for_the_transfer_picker(api: TestClient, redis_server: Any) -> None:
    for email in ("ann@shop.example", "ben@shop.example"):
        add(redis_server.url, email)
    assert api.get("/api/agent/agents").status_code == 401
    ann = login(api, "ann@shop.example")
    listed = api.get("/api/agent/agents", headers=ann)
    assert listed.status_code == 200, listed.text
    rows = {a["email"]: a for a in listed.json()["agents"]}
    assert rows["ann@shop.example"]["presence"] == "online"
    assert rows["ben@shop.example"]["presence"] == "offline"          # never logged in
    assert rows["ann@shop.example"]["active"] == 0
    assert not any("password" in key for row in rows.values() for key in row)


def test_me_says_when_chats_are_paused_because_the_shop_is_closed(api: TestClient, redis_server: Any) -> None:
    """Issue 19: an agent online after closing time is told why nothing arrives, and until when."""
    from tests.gateway.actions_client import FRIDAY_EVENING, TUESDAY_MORNING

    add(redis_server.url, "ann@shop.example")
    ann = login(api, "ann@shop.example")
    services = api.app.state.gateway.action_services
    services.clock = lambda: FRIDAY_EVENING            # config/shop.yml: closed until Monday 9:00
    closed = api.get("/api/agent/me", headers=ann).json()["shop"]
    assert closed["open"] is False and "lundi" in closed["next_opening"]
    english = api.get("/api/agent/me", params={"lang": "en"}, headers=ann).json()["shop"]
    assert "Monday" in english["next_opening"]
    services.clock = lambda: TUESDAY_MORNING
    assert api.get("/api/agent/me", headers=ann).json()["shop"] == {
        "open": True, "next_opening": "", "exception": None, "can_open": False}


def test_an_agent_files_a_ticket_under_another_reason_and_it_is_counted(
        bot: TestClient, redis_server: Any, redis_client: redis.Redis) -> None:
    """Issue 19: the reason chosen from the ticket's text can be corrected; the correction is
    counted and the ticket moves to that reason in the analytics."""
    add(redis_server.url, "ann@shop.example")
    ann = login(bot, "ann@shop.example")
    listed = bot.get("/api/agent/reasons", params={"lang": "fr"}, headers=ann).json()["reasons"]
    codes = {r["code"] for r in listed}
    assert {"delivery/tracking", "returns/process"} <= codes and all("/" in c for c in codes)
    assert all(r["label"] for r in listed)
    made = bot.post("/api/agent/tickets", headers=ann, json={
        "email": "shopper@example.com", "message": "Je voudrais retourner mon plaid", "lang": "fr"})
    tid = made.json()["ticket_id"]
    assert redis_client.hget(f"support:ticket:{tid}", "reason") == "returns/process"     # from its text
    assert bot.post(f"/api/agent/tickets/{tid}/reason", json={"reason": "not/a-reason"},
                    headers=ann).status_code == 422
    anonymous = bot.post(f"/api/agent/tickets/{tid}/reason", json={"reason": "delivery/tracking"})
    assert anonymous.status_code == 401
    res = bot.post(f"/api/agent/tickets/{tid}/reason", json={"reason": "delivery/tracking"}, headers=ann)
    assert res.status_code == 200, res.text
    ticket = res.json()["ticket"]
    assert (ticket["reason"], ticket["reason_was"], ticket["reason_by"]) == (
        "delivery/tracking", "returns/process", "ann@shop.example")
