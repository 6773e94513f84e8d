"""The agents' working tools on a real app and Redis: internal notes the shopper never sees,
close with a reason and reopen, ticket assignment and status, search (ticket id, e-mail, order
number, words, closed conversations included), canned replies with variables, the manager's
"open chats now", and each one's abuse case (no login, wrong role, oversized, malformed)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from tests.gateway.web_client import new_conversation

from .helpers import add, login, queued, wait_for

pytestmark = pytest.mark.timeout(60)
SATURDAY_MORNING = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)  # 10:00 in Paris: closed on Saturdays


@pytest.fixture
def api(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


def held(api: TestClient, redis_url: str, agent: dict[str, str]) -> str:
    cid = queued(api, redis_url)
    assert api.post(f"/api/agent/conversations/{cid}/claim", headers=agent).status_code == 200
    return cid


def colleagues(api: TestClient, redis_url: str) -> tuple[dict[str, str], dict[str, str]]:
    """Two agents, ann and ben, signed in."""
    add(redis_url, "ann@shop.example")
    add(redis_url, "ben@shop.example")
    return login(api, "ann@shop.example"), login(api, "ben@shop.example")


def new_ticket(api: TestClient, headers: dict[str, str], message: str, **fields: str) -> str:
    res = api.post(
        "/api/agent/tickets", json={"email": "zoe@example.com", "message": message, **fields}, headers=headers
    )
    assert res.status_code == 201, res.text
    return str(res.json()["ticket_id"])


def shopper_says(api: TestClient, cid: str, text: str) -> None:
    res = api.post(
        f"/api/chat/conversations/{cid}/messages", json={"text": text, "message_id": f"m{abs(hash(text))}"}
    )
    assert res.status_code == 202, res.text


def test_a_note_is_seen_by_agents_and_never_by_the_shopper(
    api: TestClient, redis_server: Any, redis_client: redis.Redis
) -> None:
    ann, ben = colleagues(api, redis_server.url)
    cid = held(api, redis_server.url, ann)
    secret = "Client difficile, déjà remboursé une fois <b>x</b>"
    res = api.post(f"/api/agent/conversations/{cid}/notes", json={"text": secret}, headers=ben)
    assert res.status_code == 201, res.text  # any colleague may leave a note
    seen = api.get(f"/api/agent/conversations/{cid}", headers=ann).json()
    assert [n["body"] for n in seen["notes"]] == [secret] and seen["notes"][0]["agent"] == "ben@shop.example"
    assert all(secret not in m["text"] for m in seen["messages"])  # not in the transcript
    shopper = api.get(f"/api/chat/conversations/{cid}/messages").json()["messages"]
    assert all(secret not in str(m) for m in shopper)
    assert not any(secret in raw for raw in redis_client.lrange(f"support:conv:{cid}:log", 0, -1))
    # abuse: no login, too long, empty, unknown conversation
    assert api.post(f"/api/agent/conversations/{cid}/notes", json={"text": "x"}).status_code == 401
    assert (
        api.post(f"/api/agent/conversations/{cid}/notes", json={"text": "x" * 2001}, headers=ann).status_code
        == 422
    )
    assert (
        api.post(f"/api/agent/conversations/{cid}/notes", json={"text": ""}, headers=ann).status_code == 422
    )
    assert (
        api.post("/api/agent/conversations/c-nope/notes", json={"text": "x"}, headers=ann).status_code == 404
    )


def test_ticket_notes_stay_in_the_console(api: TestClient, redis_server: Any) -> None:
    add(redis_server.url, "ann@shop.example")
    ann = login(api, "ann@shop.example")
    tid = new_ticket(api, ann, "Colis abîmé")
    assert (
        api.post(
            f"/api/agent/tickets/{tid}/notes", json={"text": "attendre la photo"}, headers=ann
        ).status_code
        == 201
    )
    replies = api.get(f"/api/agent/tickets/{tid}", headers=ann).json()["replies"]
    assert replies == [{**replies[0], "body": "attendre la photo", "note": True}]
    assert api.post("/api/agent/tickets/T-999999/notes", json={"text": "x"}, headers=ann).status_code == 404


def test_close_with_a_reason_then_reopen(
    api: TestClient, redis_server: Any, redis_client: redis.Redis
) -> None:
    ann, ben = colleagues(api, redis_server.url)
    cid = held(api, redis_server.url, ann)
    assert (
        api.post(
            f"/api/agent/conversations/{cid}/close", json={"reason": "whatever"}, headers=ann
        ).status_code
        == 422
    )
    assert (
        api.post(f"/api/agent/conversations/{cid}/close", json={"reason": "spam"}, headers=ann).status_code
        == 200
    )
    conv = redis_client.hgetall(f"support:conv:{cid}")
    assert (
        conv["state"] == "bot" and conv["close_reason"] == "spam" and conv["closed_by"] == "ann@shop.example"
    )
    # ben finds it again by searching its id's customer and takes it back
    reopened = api.post(f"/api/agent/conversations/{cid}/reopen", headers=ben)
    assert reopened.status_code == 200, reopened.text
    assert redis_client.hget(f"support:conv:{cid}", "agent") == "ben@shop.example"
    assert cid in redis_client.smembers("support:agent:ben@shop.example:active")
    assert api.post(f"/api/agent/conversations/{cid}/reopen", headers=ann).status_code == 409  # held now
    shopper = api.get(f"/api/chat/conversations/{cid}/messages").json()["messages"]
    assert [m["author"] for m in shopper if m["role"] == "system"].count("agent_joined") == 2
    assert (
        api.post(
            f"/api/agent/conversations/{cid}/messages", json={"text": "Me revoilà"}, headers=ben
        ).status_code
        == 200
    )
    assert api.post("/api/agent/conversations/c-unknown/reopen", headers=ben).status_code == 404
    assert (
        api.post(f"/api/agent/conversations/{cid}/close", headers=ben).status_code == 200
    )  # no body: solved
    assert redis_client.hget(f"support:conv:{cid}", "close_reason") == "solved"
    # the managers see how often a close did not end the matter
    add(redis_server.url, "boss@shop.example", role="admin")
    boss = login(api, "boss@shop.example")
    volume = wait_for(lambda: api.get("/api/admin/analytics/kpis", headers=boss).json()["volume"],
                      lambda v: v["handoffs_closed"] >= 2)
    assert (volume["handoffs_closed"], volume["handoffs_reopened"]) == (2, 1)


def test_tickets_are_assigned_and_move_between_statuses(api: TestClient, redis_server: Any) -> None:
    ann, ben = colleagues(api, redis_server.url)
    tid = new_ticket(api, ann, "Où est mon colis ?")
    assert (
        api.post(
            f"/api/agent/tickets/{tid}/assign", json={"to": "nobody@shop.example"}, headers=ann
        ).status_code
        == 404
    )
    assert (
        api.post(f"/api/agent/tickets/{tid}/assign", json={"to": "ben@shop.example"}, headers=ann).json()[
            "ticket"
        ]["assignee"]
        == "ben@shop.example"
    )
    mine = api.get("/api/agent/tickets?assignee=me", headers=ben).json()["tickets"]
    assert [t["id"] for t in mine] == [tid]
    assert api.get("/api/agent/tickets?assignee=me", headers=ann).json()["tickets"] == []
    assert [t["id"] for t in api.get("/api/agent/tickets?assignee=none", headers=ann).json()["tickets"]] == []
    for status in ("pending", "solved"):
        res = api.post(f"/api/agent/tickets/{tid}/status", json={"status": status}, headers=ben)
        assert res.json()["ticket"]["status"] == status
    assert api.get("/api/agent/tickets", headers=ben).json()["tickets"] == []  # solved: out of the queue
    assert (
        api.post(f"/api/agent/tickets/{tid}/status", json={"status": "open"}, headers=ben).json()["ticket"][
            "status"
        ]
        == "open"
    )
    assert [t["id"] for t in api.get("/api/agent/tickets", headers=ben).json()["tickets"]] == [tid]
    assert (
        api.post(f"/api/agent/tickets/{tid}/status", json={"status": "closed"}, headers=ben).status_code
        == 422
    )
    assert (
        api.post("/api/agent/tickets/T-999999/status", json={"status": "open"}, headers=ben).status_code
        == 404
    )


def test_search_by_ticket_id_email_order_number_and_words(api: TestClient, redis_server: Any) -> None:
    add(redis_server.url, "ann@shop.example")
    ann = login(api, "ann@shop.example")
    cid = held(api, redis_server.url, ann)
    shopper_says(api, cid, "Bonjour, ma commande AL-123456 est arrivée avec un abat-jour déchiré")
    tid = api.post(
        "/api/agent/tickets",
        json={
            "conversation_id": cid,
            "email": "Zoe.Martin@Example.com",
            "order_number": "AL-123456",
            "message": "Abat-jour déchiré",
        },
        headers=ann,
    ).json()["ticket_id"]
    assert api.post(f"/api/agent/conversations/{cid}/close", headers=ann).status_code == 200
    other = new_conversation(api, lang="fr")
    shopper_says(api, other, "Je voudrais un code promo")

    def found(q: str) -> tuple[list[str], list[str]]:
        res = api.get("/api/agent/search", params={"q": q}, headers=ann)
        assert res.status_code == 200, res.text
        return [c["id"] for c in res.json()["conversations"]], [t["id"] for t in res.json()["tickets"]]

    assert found(tid.lower().replace("t-0000", "T")) == ([cid], [tid])  # "T12" style ids too
    assert found("zoe.martin@example.COM") == ([cid], [tid])  # closed conversation included
    assert found("al-123456") == ([cid], [tid])
    assert found("DECHIRE") == ([cid], [tid])  # no case, no accents
    assert found("code promo") == ([other], [])
    assert found("introuvable") == ([], [])
    hit = api.get("/api/agent/search", params={"q": "déchiré"}, headers=ann).json()["conversations"][0]
    assert hit["state"] == "bot" and hit["close_reason"] == "solved" and "déchiré" in hit["snippet"]
    # abuse: no login, too short, too long
    assert api.get("/api/agent/search", params={"q": "zoe"}).status_code == 401
    assert api.get("/api/agent/search", params={"q": "z"}, headers=ann).status_code == 422
    assert api.get("/api/agent/search", params={"q": "z" * 121}, headers=ann).status_code == 422


def test_searches_are_budgeted_per_account(
    api: TestClient, redis_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway import agent_desk_api

    monkeypatch.setattr(agent_desk_api, "SEARCHES_PER_HOUR", 3)
    add(redis_server.url, "ann@shop.example")
    ann = login(api, "ann@shop.example")
    codes = [api.get("/api/agent/search", params={"q": "colis"}, headers=ann).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


def test_the_customer_view_gathers_emails_tickets_and_past_conversations(
    api: TestClient, redis_server: Any
) -> None:
    add(redis_server.url, "ann@shop.example")
    ann = login(api, "ann@shop.example")
    cid = held(api, redis_server.url, ann)
    api.post(
        "/api/agent/tickets",
        json={
            "conversation_id": cid,
            "email": "zoe@example.com",
            "order_number": "AL-654321",
            "message": "Colis perdu",
        },
        headers=ann,
    )
    elsewhere = new_conversation(api, lang="fr")  # another visitor id, the same e-mail
    api.post(
        "/api/agent/tickets",
        json={"conversation_id": elsewhere, "email": "ZOE@example.com", "message": "Facture"},
        headers=ann,
    )
    scans = redis.Redis.from_url(redis_server.url).info("commandstats").get("cmdstat_zrevrange", {})
    view = api.get(f"/api/agent/conversations/{cid}", headers=ann).json()
    after = redis.Redis.from_url(redis_server.url).info("commandstats").get("cmdstat_zrevrange", {})
    assert after["calls"] - scans.get("calls", 0) == 1       # the newest tickets read once, e-mail search too
    assert view["customer"]["emails"] == ["zoe@example.com"] and view["customer"]["lang"] == "fr"
    assert elsewhere in view["past_conversations"] and cid not in view["past_conversations"]
    assert {t["message"] for t in view["tickets"]} == {"Colis perdu", "Facture"}
    assert view["order_numbers"] == ["AL-654321"]


def test_canned_replies_render_their_variables_and_only_admins_edit_them(
    api: TestClient, redis_server: Any
) -> None:
    add(redis_server.url, "ann@shop.example")
    add(redis_server.url, "boss@shop.example", role="admin")
    ann, boss = login(api, "ann@shop.example"), login(api, "boss@shop.example")
    cid = held(api, redis_server.url, ann)
    shopper_says(api, cid, "Ma commande AL-777777 n'arrive pas")
    listed = api.get("/api/agent/canned", params={"lang": "fr", "conversation": cid}, headers=ann).json()
    assert listed["can_edit"] is False and {r["lang"] for r in listed["canned"]} == {"fr"}
    suivi = next(r for r in listed["canned"] if r["shortcut"] == "suivi")
    assert (
        suivi["text"]
        == "Je vérifie l’état de votre commande AL-777777 et je reviens vers vous dans un instant."
    )
    hello = next(r for r in listed["canned"] if r["shortcut"] == "bonjour")
    # no first name known, and ann has no display name: both left out with their space
    assert hello["text"] == "Bonjour, je suis du service client. Je regarde votre demande tout de suite."
    assert (
        api.post(
            f"/api/agent/conversations/{cid}/customer", json={"first_name": "Zoé"}, headers=ann
        ).status_code
        == 200
    )
    again = api.get("/api/agent/canned", params={"lang": "fr", "conversation": cid}, headers=ann).json()
    assert next(r for r in again["canned"] if r["shortcut"] == "bonjour")["text"].startswith(
        "Bonjour Zoé, je suis "
    )
    new = {
        "shortcut": "remb",
        "lang": "fr",
        "title": "Remboursement",
        "body": "{first_name}, votre remboursement part aujourd’hui. <script>alert(1)</script>",
    }
    assert api.post("/api/agent/canned", json=new, headers=ann).status_code == 403  # agents do not edit
    made = api.post("/api/agent/canned", json=new, headers=boss)
    assert made.status_code == 201, made.text
    rid = made.json()["canned"]["id"]
    assert (
        api.put(
            f"/api/agent/canned/{rid}", json={**new, "body": "Bonjour {prenom}"}, headers=boss
        ).status_code
        == 422
    )  # unknown variable
    res = api.put(f"/api/agent/canned/{rid}", json={**new, "body": "{first_name.__class__}"}, headers=boss)
    assert res.status_code == 422
    assert (res.json()["key"], res.json()["variable"]) == ("canned_variable", "first_name.__class__")
    for shortcut in ("../x", "remb\n"):                  # "$" would let a trailing newline through
        res = api.put(f"/api/agent/canned/{rid}", json={**new, "shortcut": shortcut}, headers=boss)
        assert res.status_code == 422, shortcut
    assert api.put("/api/agent/canned/cr-nope", json=new, headers=boss).status_code == 404
    assert api.delete(f"/api/agent/canned/{rid}", headers=ann).status_code == 403
    assert api.delete(f"/api/agent/canned/{rid}", headers=boss).status_code == 200
    assert api.delete("/api/agent/canned/__seeded__", headers=boss).status_code == 404


def test_a_manager_opens_chats_outside_the_calendar(
    make_client: Callable[..., TestClient], redis_server: Any
) -> None:
    api = make_client(clock_start=SATURDAY_MORNING)
    add(redis_server.url, "ann@shop.example")
    add(redis_server.url, "max@shop.example", role="manager")
    ann, boss = login(api, "ann@shop.example"), login(api, "max@shop.example")
    me = api.get("/api/agent/me", headers=ann).json()
    assert me["shop"]["open"] is False and me["shop"]["can_open"] is False and me["shop"]["next_opening"]
    assert api.get("/api/chat/availability").json()["status"] == "closed"
    assert api.post("/api/agent/hours/open-now", json={"until": "23:00"}, headers=ann).status_code == 403
    assert api.post("/api/agent/hours/open-now", json={"until": "08:00"}, headers=boss).status_code == 422
    assert api.post("/api/agent/hours/open-now", json={"until": "25:00"}, headers=boss).status_code == 422
    opened = api.post("/api/agent/hours/open-now", json={"until": "23:00"}, headers=boss)
    assert opened.status_code == 200, opened.text
    me = api.get("/api/agent/me", headers=ann).json()
    assert me["shop"]["open"] is True and me["shop"]["exception"]["by"] == "max@shop.example"
    assert api.get("/api/chat/availability").json()["status"] == "human"  # ann is online
    assert api.delete("/api/agent/hours/open-now", headers=ann).status_code == 403
    assert api.delete("/api/agent/hours/open-now", headers=boss).json() == {"removed": True}
    assert api.get("/api/agent/me", headers=ann).json()["shop"]["open"] is False


def test_notes_and_the_search_index_follow_a_gdpr_export_and_erase(
    api: TestClient, redis_server: Any, redis_client: redis.Redis
) -> None:
    add(redis_server.url, "ann@shop.example")
    add(redis_server.url, "boss@shop.example", role="admin")
    ann, boss = login(api, "ann@shop.example"), login(api, "boss@shop.example")
    cid = held(api, redis_server.url, ann)
    tid = api.post(
        "/api/agent/tickets",
        json={"conversation_id": cid, "email": "zoe@example.com", "message": "Colis perdu"},
        headers=ann,
    ).json()["ticket_id"]
    api.post(f"/api/agent/conversations/{cid}/notes", json={"text": "déjà relancée deux fois"}, headers=ann)
    exported = api.get("/api/admin/privacy/export", params={"email": "zoe@example.com"}, headers=boss).json()
    conv = next(c for c in exported["conversations"] if c["id"] == cid)
    assert [n["body"] for n in conv["agent_notes"]] == ["déjà relancée deux fois"]  # a right of access
    erased = api.post("/api/admin/privacy/erase", json={"email": "zoe@example.com"}, headers=boss)
    assert erased.status_code == 200
    assert not redis_client.exists(f"support:conv:{cid}:notes")
    assert redis_client.zscore("support:conversations", cid) is None
    assert redis_client.zscore("support:tickets:all", tid) is None
    found = api.get("/api/agent/search", params={"q": "zoe@example.com"}, headers=ann).json()
    assert found["conversations"] == [] and found["tickets"] == []
