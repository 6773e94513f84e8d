"""Real conversations through the gateway (Rasa, Redis, the widget's socket) and the managers'
API reporting them: what the bot answered, the thumbs, the handoff, the rating; agents may
not read it, admins get JSON and CSV."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

from ops.redis_server import RedisServer
from tests.stack import Gateway, Rasa

from .conftest import AgentClient, Shopper, add_agent


def kpis(admin: AgentClient, **params: str) -> dict[str, Any]:
    res = admin.get("/api/admin/analytics/kpis", params=params)
    assert res.status_code == 200, res.text
    return res.json()


def wait_until(check, what: str, timeout: float = 30) -> Any:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while True:
        if got := check():
            return got
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def settled(admin: AgentClient) -> dict[str, Any]:
    """The KPIs once earlier tests' background events have all landed (two equal reads)."""
    previous = kpis(admin, channel="web")
    while True:
        time.sleep(1)
        current = kpis(admin, channel="web")
        if current == previous:
            return current
        previous = current


def test_conversations_show_up_in_the_kpis(open_stack: tuple[Gateway, Rasa],
                                           redis_server: RedisServer) -> None:
    gw, _ = open_stack
    boss = f"boss-{uuid.uuid4().hex[:6]}@shop.example"
    agent_email = f"ana-{uuid.uuid4().hex[:6]}@shop.example"
    add_agent(redis_server.url, boss, "correct horse battery", role="admin")
    add_agent(redis_server.url, agent_email, "correct horse battery")
    admin = AgentClient(gw.url, boss, "correct horse battery")
    agent = AgentClient(gw.url, agent_email, "correct horse battery")
    before = settled(admin)

    shopper = Shopper(gw.url.replace("http", "ws") + "/ws/chat?lang=fr")
    shopper.say("Bonjour, où est mon colis ?")
    shopper.wait_message("bot", "aidé")                              # answer + "did this help?"
    shopper.say("/affirm")                                           # thumbs up
    shopper.wait(lambda f: f.get("type") == "message" and any(     # then the effort question
        b["payload"].startswith("/ces") for b in f["message"]["buttons"]))
    shopper.say('/ces{"score": 6}')
    shopper.wait_message("bot", "explique votre note")               # "why?"
    shopper.say("Réponse immédiate, merci ! Mon mail : jo@example.com")
    shopper.wait_message("bot", "merci pour votre avis")
    shopper.say("je veux parler à un conseiller")
    shopper.wait_message("bot", "conseiller")
    cid = shopper.conversation_id
    wait_until(lambda: agent.post(f"/api/agent/conversations/{cid}/claim").status_code == 200, "the claim")
    agent.post(f"/api/agent/conversations/{cid}/messages", json={"text": "Bonjour !"})
    assert agent.post(f"/api/agent/conversations/{cid}/close").status_code == 200
    shopper.wait(lambda f: f.get("type") == "message" and any(
        b["payload"].startswith("/csat") for b in f["message"]["buttons"]))
    shopper.say('/csat{"score": 5}')
    shopper.wait_message("bot", "merci")
    shopper.close()

    def grew() -> dict[str, Any] | None:
        now = kpis(admin, channel="web")
        done = now["volume"]["handoffs_closed"] > before["volume"]["handoffs_closed"] and \
            now["csat"]["n"] > before["csat"]["n"] and now["ces"]["n"] > before["ces"]["n"]
        return now if done else None

    after = wait_until(grew, "the events to be counted")
    volume, was = after["volume"], before["volume"]
    assert volume["conversations"] == was["conversations"] + 1
    assert volume["messages_in"] >= was["messages_in"] + 4
    assert volume["faq_lookups"] >= was["faq_lookups"] + 1
    assert volume["handoffs_requested"] == was["handoffs_requested"] + 1
    assert volume["handoffs_claimed"] == was["handoffs_claimed"] + 1
    assert volume["agent_messages"] >= was["agent_messages"] + 1
    assert after["thumbs"]["up"] == before["thumbs"]["up"] + 1
    assert after["csat"]["histogram"].get("5", 0) == before["csat"]["histogram"].get("5", 0) + 1
    assert after["handoff"]["conversations_handed_off"] == before["handoff"]["conversations_handed_off"] + 1
    by_reason = admin.get("/api/admin/analytics/breakdown", params={"dim": "reason"}).json()["values"]
    assert by_reason.get("delivery/tracking", 0) >= 1
    comments = admin.get("/api/admin/analytics/verbatims", params={"survey": "ces"}).json()["verbatims"]
    mine = [c for c in comments if c["text"].startswith("Réponse immédiate")]
    assert mine and mine[0]["text"] == "Réponse immédiate, merci ! Mon mail : [email]"
    assert (mine[0]["score"], mine[0]["band"], mine[0]["reason"]) == (6, "easy", "delivery/tracking")

    csv_export = admin.get("/api/admin/analytics/kpis", params={"format": "csv"})
    assert csv_export.headers["content-type"].startswith("text/csv")
    assert "csat.score" in csv_export.text and csv_export.text.startswith("metric,value")
    assert agent.get("/api/admin/analytics/kpis").status_code == 403
    assert httpx.get(f"{gw.url}/api/admin/analytics/kpis").status_code == 401
    assert admin.get("/api/admin/analytics/kpis", params={"start": "2026-13-01"}).status_code == 422
