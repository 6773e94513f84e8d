"""Issue 14, "rate limits per conversation only", on the real gateway app and the session Redis.

Seen live: the only budget was per conversation, and a conversation costs nothing, so three new
conversations gave 60 of 63 messages accepted, 200 conversations were created in 0.6 s and one
conversation opened 30 tickets. Now messages are also counted per client address, and new
conversations and tickets have budgets of their own (per address; tickets per conversation too),
each refusal a 429 with Retry-After.

The address is the connection's (what uvicorn puts in `client`); a header cannot move it. The
test plays several hosts through a tiny ASGI shim setting the client from `x-test-peer`. Every
budget gets a window far longer than the test, so no assertion depends on timing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect

from gateway.app import create_app
from handoff.desk import TICKETS_OPEN
from tests.fakes.bots import EchoBot
from tests.gateway.actions_client import TOKEN, call, responses
from tests.gateway.web_client import ReadyIndex, Socket, settings_for, stored

pytestmark = pytest.mark.timeout(60)
LONG = 1_000_000                       # seconds: one window for the whole test
HOST, OTHER_HOST = "198.51.100.7", "203.0.113.9"


class PeerFromHeader:
    """Sets the ASGI client address from `x-test-peer` (HTTP and WebSocket): one app, many hosts."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            peer = dict(scope["headers"]).get(b"x-test-peer")
            if peer:
                scope = {**scope, "client": (peer.decode(), 50000)}
        await self.app(scope, receive, send)


@pytest.fixture
def make_gateway(redis_server: Any, redis_client: redis.Redis) -> Iterator[Callable[..., TestClient]]:
    """`make_gateway(**settings)`: a started app on an emptied session Redis, the echo bot for Rasa."""
    opened: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        settings = settings_for(redis_server.url, action_token=TOKEN, **overrides)
        app = create_app(settings, retrieval=ReadyIndex())
        client = TestClient(PeerFromHeader(app))
        client.__enter__()
        opened.append(client)
        app.state.gateway.router.bot = EchoBot()
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


def peer(host: str, forwarded: str | None = None) -> dict[str, str]:
    headers = {"x-test-peer": host}
    if forwarded:
        headers["X-Forwarded-For"] = forwarded
    return headers


def open_conversation(gw: TestClient, host: str = HOST, **headers: str) -> Any:
    return gw.post("/api/chat/conversations", json={"lang": "fr"}, headers={**peer(host), **headers})


def assert_limited(res: Any) -> None:
    assert res.status_code == 429, res.text
    body = res.json()
    assert body["error"] == "too_many_requests" and body["message"]
    assert int(res.headers["Retry-After"]) == body["retry_after_s"] > 0


def test_many_conversations_do_not_multiply_the_message_budget(make_gateway: Callable[..., TestClient],
                                                               redis_client: redis.Redis) -> None:
    """4 conversations x 20 messages from one host: 60 are accepted (CHAT_ADDRESS_RATE_LIMIT),
    not 80; another host is not affected."""
    gw = make_gateway(chat_rate=(20, LONG), chat_address_rate=(60, LONG))
    cids = [open_conversation(gw).json()["conversation_id"] for _ in range(4)]
    codes = [gw.post(f"/api/chat/conversations/{cid}/messages", json={"text": f"question {n}"},
                     headers=peer(HOST, forwarded=f"10.0.{n}.{i}")).status_code   # forged headers: no effect
             for i, cid in enumerate(cids) for n in range(20)]
    assert codes.count(202) == 60 and codes[60:] == [429] * 20
    assert_limited(gw.post(f"/api/chat/conversations/{cids[0]}/messages", json={"text": "again"},
                           headers=peer(HOST)))
    assert [m for m in stored(redis_client, cids[3]) if m["role"] == "shopper"] == []
    with gw.websocket_connect("/ws/chat?lang=fr", headers=peer(HOST)) as ws:      # a fresh conversation...
        error = Socket(ws).reply({"type": "message", "text": "over the socket", "message_id": "w1"})
        assert (error["type"], error["status"], error["message_id"]) == ("error", 429, "w1")
        assert error["retry_after_s"] > 0                                           # ... the same budget
    other = open_conversation(gw, OTHER_HOST).json()["conversation_id"]
    assert gw.post(f"/api/chat/conversations/{other}/messages", json={"text": "hello"},
                   headers=peer(OTHER_HOST)).status_code == 202


def conversations_in(redis_client: redis.Redis) -> int:
    return sum(1 for key in redis_client.scan_iter("support:conv:c-*") if key.count(":") == 2)


def test_new_conversations_are_limited_per_address(make_gateway: Callable[..., TestClient],
                                                   redis_client: redis.Redis) -> None:
    """The default CONVERSATION_RATE_LIMIT (10 per 10 minutes) on the HTTP route and the socket;
    resuming an existing conversation is not a new one."""
    gw = make_gateway(conversation_rate=(10, LONG))
    made = [open_conversation(gw, forwarded=f"10.9.9.{n}") for n in range(10)]
    assert [r.status_code for r in made] == [201] * 10
    assert_limited(open_conversation(gw, forwarded="10.1.2.3"))
    assert_limited(open_conversation(gw, **{"X-Real-IP": "10.1.2.4", "Forwarded": "for=10.1.2.5"}))
    with gw.websocket_connect("/ws/chat?lang=fr", headers=peer(HOST)) as ws:          # a socket opens one too
        refused = ws.receive_json()
        assert refused["type"] == "error" and refused["status"] == 429 and refused["retry_after_s"] > 0
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 1013                                              # "try again later"
    with gw.websocket_connect("/ws/chat?conversation_id=c-forged", headers=peer(HOST)) as ws:
        assert ws.receive_json()["status"] == 429                                     # no free new one either
    assert conversations_in(redis_client) == 10
    cid = made[0].json()["conversation_id"]
    with gw.websocket_connect(f"/ws/chat?conversation_id={cid}", headers=peer(HOST)) as ws:
        assert Socket(ws).welcome["resumed"] is True                                  # resuming is free
    assert open_conversation(gw, OTHER_HOST).status_code == 201
    assert conversations_in(redis_client) == 11


def test_tickets_are_limited_per_conversation_and_per_address(make_gateway: Callable[..., TestClient],
                                                              redis_client: redis.Redis) -> None:
    """TICKET_RATE_LIMIT per conversation and TICKET_ADDRESS_RATE_LIMIT per address, on the widget's
    offline form and the bot's ticket form (which knows the conversation's address)."""
    gw = make_gateway(ticket_rate=(3, LONG), ticket_address_rate=(5, LONG))
    first, second = (open_conversation(gw).json()["conversation_id"] for _ in range(2))

    def form(cid: str, n: int) -> Any:
        return gw.post(f"/api/chat/conversations/{cid}/tickets", headers=peer(HOST, forwarded=f"10.0.0.{n}"),
                       json={"email": "anna@example.com", "message": f"Problem number {n}"})

    assert [form(first, n).status_code for n in range(3)] == [201] * 3
    assert_limited(form(first, 3))                                   # 3 per conversation
    assert form(first, 0).status_code == 429                         # ... even a resubmission, once spent

    def bot_ticket(cid: str, n: int) -> dict[str, Any]:
        (msg,) = responses(call(gw, "action_submit_ticket", f"merci {n}", sender=cid, slots={
            "ticket_email": "anna@example.com", "ticket_order": "-", "ticket_message": f"Via the bot {n}"}))
        return msg

    assert bot_ticket(second, 1)["response"] == "utter_ticket_created"
    assert bot_ticket(second, 2)["response"] == "utter_ticket_created"   # 5 for this address now
    refused = bot_ticket(second, 3)
    assert refused["response"] == "utter_ticket_limited"              # bot/domain.yml, FR and EN
    assert redis_client.zcard(TICKETS_OPEN) == 5
    third = open_conversation(gw, OTHER_HOST).json()["conversation_id"]
    assert gw.post(f"/api/chat/conversations/{third}/tickets", headers=peer(OTHER_HOST),
                   json={"email": "ben@example.com", "message": "Mine"}).status_code == 201


def test_the_limits_are_settings_with_sane_defaults() -> None:
    from gateway.settings import Settings, SettingsError

    defaults = Settings.from_env({})
    assert (defaults.chat_rate, defaults.chat_address_rate, defaults.conversation_rate, defaults.ticket_rate,
            defaults.ticket_address_rate) == ((20, 60), (60, 60), (10, 600), (3, 3600), (10, 3600))
    moved = Settings.from_env({"CONVERSATION_RATE_LIMIT": "500/60", "TICKET_ADDRESS_RATE_LIMIT": "100/3600"})
    assert moved.conversation_rate == (500, 60) and moved.ticket_address_rate == (100, 3600)
    with pytest.raises(SettingsError, match="TICKET_RATE_LIMIT must look like 20/60"):
        Settings.from_env({"TICKET_RATE_LIMIT": "lots"})


def test_client_keys_hide_the_address_and_group_ipv6_by_64() -> None:
    from gateway.ratelimit import client_key

    key = client_key("198.51.100.7", b"secret")
    assert key.startswith("ip_") and "198" not in key
    assert key != client_key("198.51.100.8", b"secret") and key != client_key("198.51.100.7", b"other")
    assert client_key("2001:db8:1:2::1", b"s") == client_key("2001:db8:1:2:ffff::9", b"s")   # one /64
    assert client_key("2001:db8:1:2::1", b"s") != client_key("2001:db8:1:3::1", b"s")
    assert client_key("::ffff:198.51.100.7", b"secret") == key
    assert client_key(None, b"s").startswith("ip_")


def test_both_message_budgets_are_counted_in_one_round_trip(redis_server: Any,
                                                            redis_client: redis.Redis) -> None:
    """Every shopper message pays its two budgets (conversation, address) in one Redis round
    trip (issue 20); the conversation's refusal is the one reported when both refuse, and the
    address is counted all the same, so hammering one conversation also spends the address's."""
    from types import SimpleNamespace

    from gateway.ratelimit import ChatLimits
    from tests.helpers import on_redis

    redis_client.flushdb()
    settings = SimpleNamespace(chat_rate=(2, LONG), chat_address_rate=(3, 60), conversation_rate=(1, LONG),
                               ticket_rate=(1, LONG), ticket_address_rate=(1, LONG))

    async def scenario(client: Any) -> tuple[list[int], dict[str, int]]:
        limits = ChatLimits(client, settings, secret=b"test")
        waits = [await limits.message("v-1", "ip_x") for _ in range(4)]
        counts = {str(k).split(":")[2]: int(redis_client.get(k))
                  for k in redis_client.scan_iter("support:rate:*")}
        return waits, counts

    waits, counts = on_redis(redis_server.url, scenario)
    assert waits[:2] == [0, 0] and all(w > 0 for w in waits[2:])
    assert waits[3] > 60     # the conversation's window (LONG), not the address's (60 s)
    assert counts == {"web": 4, "msg-client": 4}
