"""Out of hours, every process real, the gateway's clock set to Friday 19:00 (Paris): asking
for a human ends in the bot's ticket form, the ticket promises Monday 17:00 (8 business hours
of Mon-Fri 09:00-18:00), survives `kill -9` of Redis, and the agent's reply reaches a real
local SMTP server. The widget's offline form makes tickets too."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import redis as redis_lib

from analytics.log import STREAM
from ops.ports import free_port
from ops.redis_server import RedisServer
from tests.stack import REPO, stack

from .conftest import AgentClient, Mailbox, Shopper, add_agent

FRIDAY_EVENING = "2026-11-27T19:00:00+01:00"
MONDAY_17H_PARIS = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)


def wait_ok(call, timeout: float = 30) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            res = call()
            if res.status_code == 200 or time.monotonic() > deadline:
                return res
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.5)


def test_ticket_out_of_hours_survives_a_redis_crash_and_is_answered_by_email(
        bot_model: Path, shared_index: Path, smtp: tuple[str, Mailbox], tmp_path: Path) -> None:
    smtp_url, mailbox = smtp
    with RedisServer(port=free_port(), data_dir=tmp_path / "redis", use_env=False,
                     appendfsync="always") as redis, \
            stack(redis.url, tmp_path, shop_config=REPO / "config" / "shop.yml", index_dir=shared_index,
                  extra_env={"CLOCK_START": FRIDAY_EVENING, "SMTP_URL": smtp_url,
                             "SMTP_FROM": "Atelier Lumen <support@shop.example>"}) as (gw, _):
        add_agent(redis.url, "night@shop.example", "correct horse battery")
        shopper = Shopper(gw.url.replace("http", "ws") + "/ws/chat?lang=fr")
        shopper.say("je veux parler à quelqu'un")
        shopper.wait_message("bot", "adresse e-mail")               # no human pretended: the form
        shopper.say("pas-une-adresse")
        shopper.wait_message("bot", "adresse e-mail")               # asked again
        shopper.say("jean.dupont@example.com")
        shopper.wait_message("bot", "numéro de commande")
        shopper.say("AL-482913")
        shopper.wait_message("bot", "message")
        shopper.say("Mon colis est arrivé cassé, je voudrais un échange.")
        created = shopper.wait_message("bot", "ticket T-")
        assert "lundi" in created["text"].lower() and "17:00" in created["text"], created["text"]
        shopper.close()

        agent = AgentClient(gw.url, "night@shop.example", "correct horse battery")
        (ticket,) = [t for t in agent.get("/api/agent/tickets").json()["tickets"]
                     if t["email"] == "jean.dupont@example.com"]
        assert datetime.fromisoformat(ticket["due"]) == MONDAY_17H_PARIS
        assert ticket["status"] == "open" and ticket["order_number"] == "AL-482913"

        redis.kill()                                                 # crash: no chance to flush
        redis.start()
        after = wait_ok(lambda: agent.get(f"/api/agent/tickets/{ticket['id']}"))
        assert after.status_code == 200, after.text
        assert after.json()["ticket"]["message"] == "Mon colis est arrivé cassé, je voudrais un échange."
        assert after.json()["can_email"] is True                      # SMTP configured: the reply box is on
        assert any("colis" in m["text"] for m in after.json()["transcript"])  # conversation attached

        reply = agent.post(f"/api/agent/tickets/{ticket['id']}/reply",
                           json={"text": "Bonjour Jean, un échange part demain. Désolés !"})
        assert reply.status_code == 200, reply.text
        assert reply.json()["ticket"]["status"] == "pending"
        mail = next(m for m in mailbox.messages if m["to"] == ["jean.dupont@example.com"])
        assert ticket["id"] in mail["data"] and "un échange part demain" in mail["data"]
        # the reply counts (tickets replied, first response time): its event was once refused
        # for an id made of the Message-ID's angle brackets
        events = redis_lib.Redis.from_url(redis.url, decode_responses=True)
        deadline = time.monotonic() + 15
        while not [f for _, f in events.xrange(STREAM)
                   if (f.get("kind"), f.get("ticket")) == ("ticket_replied", ticket["id"])]:
            assert time.monotonic() < deadline, "no ticket_replied event"
            time.sleep(0.2)

        solved = agent.post(f"/api/agent/tickets/{ticket['id']}/solve")
        assert solved.json()["ticket"]["status"] == "solved"
        assert ticket["id"] not in [t["id"] for t in agent.get("/api/agent/tickets").json()["tickets"]]

        # the widget's offline form, same promise
        cid = httpx.post(f"{gw.url}/api/chat/conversations", json={"lang": "en"}).json()["conversation_id"]
        form = httpx.post(f"{gw.url}/api/chat/conversations/{cid}/tickets", json={
            "email": "ann@example.com", "message": "Do you ship to Canada?", "lang": "en"})
        assert form.status_code == 201, form.text
        assert datetime.fromisoformat(form.json()["due"]) == MONDAY_17H_PARIS
        assert "Monday" in form.json()["promise"]

        # one ticket flow (issue 19): the bot's form asked for the e-mail, the shopper used the
        # widget's form instead; the bot does not ask again, nor read "merci" as an address
        both = Shopper(gw.url.replace("http", "ws") + "/ws/chat?lang=fr")
        both.say("je veux laisser un message")
        both.wait_message("bot", "adresse e-mail")
        sent = httpx.post(f"{gw.url}/api/chat/conversations/{both.conversation_id}/tickets", json={
            "email": "lea@example.com", "message": "La housse est déchirée.", "lang": "fr"})
        assert sent.status_code == 201, sent.text
        both.say("merci")
        reply = both.wait_message("bot")
        assert "adresse e-mail" not in reply["text"] and "ne semble pas" not in reply["text"], reply["text"]
        both.close()
        listed = agent.get("/api/agent/tickets").json()["tickets"]
        assert [t["message"] for t in listed if t["email"] == "lea@example.com"] == [
            "La housse est déchirée."]
