"""Issue 14: "an agent with no display name appears to shoppers by the local part of their e-mail"
("jeanne.martin a rejoint la conversation."). Through the real app, its router and Redis: the
widget (live socket and HTTP history) and the Messenger and WhatsApp deliveries (recording
senders in place of the Graph API) show a neutral advisor, never the e-mail or a part of it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conversation.transcript import Transcripts
from handoff.accounts import Accounts
from handoff.desk import HandoffRequest, HelpDesk
from tests.fakes.bots import RecordingSender
from tests.gateway.helpers import PASSWORD, on_redis
from tests.gateway.web_client import Socket

pytestmark = pytest.mark.timeout(60)
NAMELESS = "jeanne.martin@shop.example"
LEAKS = ("jeanne", "martin", "shop.example")   # the e-mail, its local part, or its parts


run = on_redis


@pytest.fixture
def api(make_client: Callable[..., TestClient], redis_server: Any) -> TestClient:  # noqa: F811
    client = make_client()
    run(redis_server.url, lambda r: Accounts(r).add(NAMELESS, PASSWORD))
    run(redis_server.url, lambda r: Accounts(r).add("paul.durand@shop.example", PASSWORD, name="Paul"))
    return client


def login(api: TestClient, email: str) -> dict[str, str]:
    res = api.post("/api/agent/login", json={"email": email, "password": PASSWORD})
    assert res.status_code == 200, res.text
    return {"Authorization": f"Bearer {res.json()['token']}"}


def hand_over(redis_url: str, cid: str, lang: str, channel: str) -> None:
    run(redis_url, lambda r: HelpDesk(r).request_handoff(
        HandoffRequest(cid, lang, "returns/process", "a broken vase", "asked", channel=channel)))


def assert_no_leak(seen: str) -> None:
    found = [part for part in LEAKS if part in seen.lower()]
    assert not found, f"{found} shown to the shopper: {seen}"


def test_the_widget_shows_an_advisor_not_the_agents_email(api: TestClient, redis_server: Any) -> None:
    agent = login(api, NAMELESS)
    with api.websocket_connect("/ws/chat?lang=fr") as ws:
        shopper = Socket(ws)
        cid = shopper.welcome["conversation_id"]
        assert shopper.reply({"type": "ping"})["type"] == "pong"       # subscribed
        hand_over(redis_server.url, cid, "fr", "web")
        assert api.post(f"/api/agent/conversations/{cid}/claim", headers=agent).status_code == 200
        joined = shopper.wait(lambda f: f["type"] == "message" and f["message"]["role"] == "system")
        assert api.post(f"/api/agent/conversations/{cid}/messages", headers=agent,
                        json={"text": "Bonjour, je regarde votre commande."}).status_code == 200
        said = shopper.message("agent", "Bonjour, je regarde votre commande.")
        history = shopper.reply({"type": "history"})
    assert joined["message"]["text"] == "Un conseiller a rejoint la conversation."
    assert said["author"] == "agent"
    http = api.get(f"/api/chat/conversations/{cid}/messages").json()
    assert_no_leak(json.dumps([joined, said, history, http], ensure_ascii=False))


def test_messenger_and_whatsapp_shoppers_see_an_advisor_too(api: TestClient, redis_server: Any) -> None:
    senders = {"messenger": RecordingSender(), "whatsapp": RecordingSender()}
    api.app.state.gateway.router.senders.update(senders)
    agent = login(api, NAMELESS)
    for channel, lang in (("messenger", "en"), ("whatsapp", "fr")):
        cid = run(redis_server.url,
                  lambda r, c=channel, lg=lang: Transcripts(r).open(c, f"{c}-shopper", lang=lg))
        hand_over(redis_server.url, cid, lang, channel)
        assert api.post(f"/api/agent/conversations/{cid}/claim", headers=agent).status_code == 200
        assert api.post(f"/api/agent/conversations/{cid}/messages", headers=agent,
                        json={"text": "Hello!"}).status_code == 200
    sent = {channel: [m.text for m, _ in sender.delivered] for channel, sender in senders.items()}
    assert sent == {"messenger": ["An advisor has joined the conversation.", "Hello!"],
                    "whatsapp": ["Un conseiller a rejoint la conversation.", "Hello!"]}
    assert_no_leak(json.dumps(sent, ensure_ascii=False))


def test_a_display_name_is_shown_when_the_agent_has_one(api: TestClient, redis_server: Any) -> None:
    agent = login(api, "paul.durand@shop.example")
    with api.websocket_connect("/ws/chat?lang=en") as ws:
        shopper = Socket(ws)
        cid = shopper.welcome["conversation_id"]
        assert shopper.reply({"type": "ping"})["type"] == "pong"
        hand_over(redis_server.url, cid, "en", "web")
        assert api.post(f"/api/agent/conversations/{cid}/claim", headers=agent).status_code == 200
        joined = shopper.wait(lambda f: f["type"] == "message" and f["message"]["role"] == "system")
    assert joined["message"]["text"] == "Paul has joined the conversation."
