"""Messenger and WhatsApp end to end: signed webhooks into the real gateway, real Rasa
answers, replies (bot and agent) sent to a local fake Graph API that checks every request's
shape, token and appsecret_proof. Forged signatures are refused and change nothing."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from ops.redis_server import RedisServer
from tests.fakes.graph_server import FakeGraph, sign
from tests.helpers import wait_for
from tests.stack import Gateway, Rasa

from .conftest import META_SECRET, AgentClient, add_agent

SECRET = META_SECRET


def post_signed(gw: Gateway, path: str, payload: dict[str, Any], secret: str = SECRET) -> httpx.Response:
    body = json.dumps(payload).encode()
    return httpx.post(f"{gw.url}{path}", content=body, headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": sign(body, secret)})


def messenger_event(psid: str, text: str, mid: str | None = None) -> dict[str, Any]:
    ts = int(time.time() * 1000)
    return {"object": "page", "entry": [{"id": "PAGE", "time": ts, "messaging": [{
        "sender": {"id": psid}, "recipient": {"id": "PAGE"}, "timestamp": ts,
        "message": {"mid": mid or f"m_{uuid.uuid4().hex}", "text": text}}]}]}


def whatsapp_event(wa_id: str, text: str, wamid: str | None = None) -> dict[str, Any]:
    return {"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [{
        "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "33100000000", "phone_number_id": "1055"},
            "contacts": [{"profile": {"name": "Jo"}, "wa_id": wa_id}],
            "messages": [{"from": wa_id, "id": wamid or f"wamid.{uuid.uuid4().hex}",
                          "timestamp": str(int(time.time())), "type": "text", "text": {"body": text}}]}}]}]}


def sent_texts(graph: FakeGraph, endpoint: str, recipient: str) -> list[str]:
    out = []
    for call in graph.calls_to(endpoint):
        body = call.body
        if endpoint == "messenger" and body.get("recipient", {}).get("id") == recipient and "message" in body:
            out.append(body["message"].get("text", ""))
        if endpoint == "whatsapp" and body.get("to") == recipient:
            out.append(body.get("text", {}).get("body") or body.get("interactive", {}).get("body", {})
                       .get("text", ""))
    return out


def sent_containing(graph: FakeGraph, endpoint: str, recipient: str, fragment: str) -> str:
    return wait_for(lambda: next((t for t in sent_texts(graph, endpoint, recipient)
                                  if fragment.lower() in t.lower()), None),
                    f"{endpoint} reply containing {fragment!r}")


def handoff_flow(gw: Gateway, graph: FakeGraph, agent: AgentClient, endpoint: str, recipient: str,
                 event: Callable[[str, str], dict[str, Any]], path: str) -> None:
    """FAQ answer -> ask for a human -> agent claims, sees the bot's turns, replies -> close -> bot."""
    assert post_signed(gw, path, event(recipient, "Bonjour, où est mon colis ?")).status_code == 200
    sent_containing(graph, endpoint, recipient, "lien de suivi")
    assert post_signed(gw, path, event(recipient, "je veux parler à un conseiller")).status_code == 200
    sent_containing(graph, endpoint, recipient, "conseiller")
    waiting = wait_for(lambda: [w for w in agent.get("/api/agent/queue").json()["queue"]
                                if w["channel"] == endpoint], "the conversation in the queue")
    cid = waiting[0]["conversation_id"]
    assert agent.post(f"/api/agent/conversations/{cid}/claim").status_code == 200
    transcript = agent.get(f"/api/agent/conversations/{cid}").json()["messages"]
    assert any(m["role"] == "bot" and "lien de suivi" in m["text"] for m in transcript)
    reply = agent.post(f"/api/agent/conversations/{cid}/messages", json={"text": f"Bonjour, ici {endpoint}."})
    assert reply.status_code == 200, reply.text
    sent_containing(graph, endpoint, recipient, f"Bonjour, ici {endpoint}.")
    assert agent.post(f"/api/agent/conversations/{cid}/close").status_code == 200
    assert post_signed(gw, path, event(recipient, "Comment retourner un article ?")).status_code == 200
    sent_containing(graph, endpoint, recipient, "retour")


def test_messenger_conversation_with_an_agent(open_stack: tuple[Gateway, Rasa], graph: FakeGraph,
                                              redis_server: RedisServer) -> None:
    gw, _ = open_stack
    add_agent(redis_server.url, "messenger-agent@shop.example", "correct horse battery")
    agent = AgentClient(gw.url, "messenger-agent@shop.example", "correct horse battery")
    handoff_flow(gw, graph, agent, "messenger", f"psid-{uuid.uuid4().hex[:8]}", messenger_event,
                 "/webhooks/messenger")
    agent.post("/api/agent/logout")


def test_whatsapp_conversation_with_an_agent(open_stack: tuple[Gateway, Rasa], graph: FakeGraph,
                                             redis_server: RedisServer) -> None:
    gw, _ = open_stack
    add_agent(redis_server.url, "whatsapp-agent@shop.example", "correct horse battery")
    agent = AgentClient(gw.url, "whatsapp-agent@shop.example", "correct horse battery")
    handoff_flow(gw, graph, agent, "whatsapp", f"336{uuid.uuid4().int % 10**8:08d}", whatsapp_event,
                 "/webhooks/whatsapp")
    agent.post("/api/agent/logout")


def test_a_redelivered_webhook_is_processed_once(open_stack: tuple[Gateway, Rasa], graph: FakeGraph) -> None:
    gw, _ = open_stack
    wa_id = f"337{uuid.uuid4().int % 10**8:08d}"
    event = whatsapp_event(wa_id, "Quels sont les délais de livraison ?", wamid=f"wamid.{uuid.uuid4().hex}")
    for _ in range(3):
        assert post_signed(gw, "/webhooks/whatsapp", event).status_code == 200
    wait_for(lambda: sent_texts(graph, "whatsapp", wa_id), "the bot's reply")
    time.sleep(2)  # a duplicate turn would have answered by now
    replies = sent_texts(graph, "whatsapp", wa_id)
    assert len(replies) == len(set(replies)), replies


@pytest.mark.parametrize("path,event", [("/webhooks/messenger", messenger_event),
                                        ("/webhooks/whatsapp", whatsapp_event)])
def test_forged_signatures_are_refused(open_stack: tuple[Gateway, Rasa], graph: FakeGraph, path: str,
                                      event: Callable[[str, str], dict[str, Any]]) -> None:
    gw, _ = open_stack
    who = f"forger-{uuid.uuid4().hex[:8]}"
    payload = event(who, "Bonjour, où est mon colis ?")
    assert post_signed(gw, path, payload, secret="not-the-secret").status_code == 403
    body = json.dumps(payload).encode()
    assert httpx.post(f"{gw.url}{path}", content=body,
                      headers={"Content-Type": "application/json"}).status_code == 403
    time.sleep(2)
    assert not sent_texts(graph, path.rsplit("/", 1)[1], who)
