"""The e-mail channel through the gateway (issue 21): Mailgun's signed raw-MIME webhook into the
conversation, the ticket, the queue and one automatic reply (real Redis, real retriever, a real
local SMTP server); the shopper's reply from another client; the agent's threaded answer; the
mails that must never be answered; and the attacker's calls (forged, stale, replayed)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from email import message_from_bytes, message_from_string, policy
from email.message import EmailMessage
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from analytics.log import STREAM
from mail.threads import ThreadKeys
from retrieval.service import RetrievalService
from tests.e2e.conftest import Mailbox, smtp_sink
from tests.gateway.helpers import add, login
from tests.mailgun import PATH, mailgun_form

KEY = "mailgun-signing-key-for-tests"
SECRET = "mail-secret-for-the-tests-0123"
SUPPORT = "support@shop.example"
KEYS = ThreadKeys(SECRET.encode(), SUPPORT)


@pytest.fixture
def smtp() -> Iterator[tuple[str, Mailbox]]:
    with smtp_sink() as sink:
        yield sink


@pytest.fixture
def api(app_factory: Callable[..., Any], retrieval_service: RetrievalService, smtp: tuple[str, Mailbox],
        redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[TestClient]:
    url, _ = smtp
    for name, value in {"MAIL_SECRET": SECRET, "MAIL_ADDRESS": SUPPORT, "MAILGUN_SIGNING_KEY": KEY,
                        "SMTP_URL": url, "SMTP_FROM": f"Boutique <{SUPPORT}>", "MAIL_DIR": str(tmp_path),
                        "MAIL_AUTO_REPLIES_PER_DAY": "2"}.items():
        monkeypatch.setenv(name, value)
    with TestClient(app_factory(retrieval=retrieval_service, attachments_dir=tmp_path / "files")) as client:
        yield client


def mail(sender: str, subject: str, body: str, *, mid: str | None = None, to: str = SUPPORT,
         headers: dict[str, str] | None = None, attachment: bytes | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Message-ID"] = mid or f"<{secrets.token_hex(6)}@client.example>"
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    if attachment is not None:
        msg.add_attachment(attachment, maintype="application", subtype="pdf", filename="facture.pdf")
    return bytes(msg)


def post(api: TestClient, raw: bytes, *, key: str = KEY, stamp: int | None = None,
         token: str | None = None) -> Any:
    return api.post(PATH, data=mailgun_form(raw, key, stamp=stamp, token=token))


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def sent(box: Mailbox, n: int) -> list[Any]:
    deadline = time.monotonic() + 10
    while len(box.messages) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(box.messages) >= n, box.messages
    return [message_from_string(m["data"], policy=policy.default) for m in box.messages]


def test_a_mail_thread_from_first_mail_to_the_agents_answer(api: TestClient, smtp: tuple[str, Mailbox],
                                                           redis_client: redis.Redis) -> None:
    _, box = smtp
    first = mail("Hélène <helene@example.fr>", "Retour d'un article",
                 "Bonjour, comment retourner un article ? Merci", mid="<first@client.example>",
                 attachment=PDF)
    res = post(api, first)
    assert res.status_code == 200 and res.json()["status"] == "new", res.text
    (reply,) = sent(box, 1)
    cid = KEYS.conversation_of_message_id(reply["Message-ID"])
    assert cid and reply["To"] == "helene@example.fr" and reply["In-Reply-To"] == "<first@client.example>"
    assert reply["Auto-Submitted"] == "auto-replied" and reply["Reply-To"] == KEYS.reply_address(cid)
    body = reply.get_content()
    assert "30" in body and "T-" in body and "[#T-" in reply["Subject"]   # the FAQ answer and the ticket
    conv = redis_client.hgetall(f"support:conv:{cid}")
    assert conv["channel"] == "email" and conv["state"] == "queued" and conv["ticket"].startswith("T-")
    assert redis_client.zscore("support:handoff:queue", cid) is not None
    log = [m for m in redis_client.lrange(f"support:conv:{cid}:log", 0, -1)]
    assert any("facture.pdf" in m for m in log) and any('"role": "bot"' in m for m in log)
    # e-mail counts in the analytics like any channel (the message, the bot's reply, the ticket)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        kinds = {(f.get("kind"), f.get("channel")) for _, f in redis_client.xrange(STREAM)}
        if {("message_in", "email"), ("ticket_created", "email")} <= kinds:
            break
        time.sleep(0.1)
    assert {("message_in", "email"), ("ticket_created", "email")} <= kinds, kinds

    # the shopper answers from another client that keeps only References
    again = mail("helene@example.fr", "Re: Retour", "Et pour un vase cassé ?", headers={
        "References": f"<first@client.example> {reply['Message-ID']}"})
    assert post(api, again).json()["status"] == "follow-up"
    assert len(box.messages) == 1                                   # no second automatic reply

    # an agent takes it and answers in the console: the mail answers her latest one
    add(api.app.state.gateway.settings.redis_url, "ana")
    auth = login(api, "ana@shop.example")
    assert api.post(f"/api/agent/conversations/{cid}/claim", headers=auth).status_code == 200
    res = api.post(f"/api/agent/conversations/{cid}/messages", headers=auth,
                   json={"text": "Bonjour Hélène, je vous envoie une étiquette."})
    assert res.status_code in (200, 201), res.text
    answer = sent(box, 2)[1]
    assert answer["In-Reply-To"] == again_id(again)
    assert KEYS.conversation_of_message_id(answer["Message-ID"]) == cid
    assert "Auto-Submitted" not in answer and answer["Subject"].startswith("Re: Retour")
    # the thread is its ticket: answered from the conversation, the ticket waits for her and the
    # reply counts (first response time, SLA), once
    tid = conv["ticket"]
    got = api.get(f"/api/agent/tickets/{tid}", headers=auth).json()
    assert got["ticket"]["status"] == "pending", got
    assert [r["body"] for r in got["replies"]] == ["Bonjour Hélène, je vous envoie une étiquette."]
    assert replied_events(redis_client, tid) == 1
    # she writes again: the ticket is open again; the agent closes the thread: solved
    assert post(api, mail("helene@example.fr", "Re: Retour", "Merci, et le délai ?", headers={
        "References": answer["Message-ID"]})).json()["status"] == "follow-up", answer["Message-ID"]
    assert api.get(f"/api/agent/tickets/{tid}", headers=auth).json()["ticket"]["status"] == "open"
    assert api.post(f"/api/agent/conversations/{cid}/close", headers=auth).status_code == 200
    assert api.get(f"/api/agent/tickets/{tid}", headers=auth).json()["ticket"]["status"] == "solved"


def replied_events(r: redis.Redis, tid: str) -> int:
    deadline = time.monotonic() + 10
    while True:
        n = sum(1 for _, f in r.xrange(STREAM) if (f.get("kind"), f.get("ticket")) == ("ticket_replied", tid))
        if n or time.monotonic() > deadline:
            return n
        time.sleep(0.1)


def again_id(raw: bytes) -> str:
    return message_from_bytes(raw, policy=policy.default)["Message-ID"]


@pytest.mark.parametrize("headers", [
    {"Auto-Submitted": "auto-replied"}, {"Precedence": "bulk"}, {"X-Autoreply": "yes"},
    {"List-Id": "<news.example.com>"}, {"Return-Path": "<>"},
])
def test_auto_responders_and_lists_get_no_reply(api: TestClient, smtp: tuple[str, Mailbox],
                                                headers: dict[str, str]) -> None:
    _, box = smtp
    res = post(api, mail("robot@example.com", "Absent du bureau", "Je suis absent.", headers=headers))
    assert res.json()["status"] == "new"
    time.sleep(0.3)
    assert box.messages == []


def test_a_bounce_and_our_own_mail_get_no_reply(api: TestClient, smtp: tuple[str, Mailbox]) -> None:
    _, box = smtp
    bounce = (b"From: MAILER-DAEMON@mx.example.com\r\nTo: support@shop.example\r\nSubject: Undelivered\r\n"
              b"Message-ID: <b1@mx>\r\nContent-Type: multipart/report; report-type=delivery-status; "
              b"boundary=XX\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--XX--\r\n")
    assert post(api, bounce).json()["status"] == "new"
    assert post(api, mail(SUPPORT, "loop", "our own mail")).json()["status"] == "new"
    time.sleep(0.3)
    assert box.messages == []


def test_one_sender_gets_at_most_n_automatic_replies_a_day(api: TestClient,
                                                           smtp: tuple[str, Mailbox]) -> None:
    _, box = smtp
    for i in range(4):
        res = post(api, mail("flood@example.com", f"Question {i}", "Comment payer ?"))
        assert res.json()["status"] == "new"
    time.sleep(0.3)
    assert len(box.messages) == 2                                   # MAIL_AUTO_REPLIES_PER_DAY


def test_forged_stale_and_replayed_calls(api: TestClient, smtp: tuple[str, Mailbox],
                                         redis_client: redis.Redis) -> None:
    _, box = smtp
    raw = mail("helene@example.fr", "Paiement", "Quels moyens de paiement ?")
    assert post(api, raw, key="not-the-key").status_code == 403
    assert post(api, raw, stamp=int(time.time()) - 3600).status_code == 403
    assert api.post("/webhooks/mailgun/mime", data={"body-mime": "x"}).status_code == 403
    token = secrets.token_hex(25)
    assert post(api, raw, token=token).json()["status"] == "new"
    assert post(api, raw, token=token).json()["status"] == "replayed"
    assert post(api, raw).json()["status"] == "duplicate"            # the same mail, posted again
    assert len(sent(box, 1)) == 1
    assert len(redis_client.zrange("support:handoff:queue", 0, -1)) == 1


def test_the_webhook_is_off_without_its_key(app_factory: Callable[..., Any],
                                           retrieval_service: RetrievalService,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAILGUN_SIGNING_KEY", raising=False)
    with TestClient(app_factory(retrieval=retrieval_service)) as client:
        assert post(client, mail("a@b.example", "x", "y")).status_code == 503


def test_export_and_erase_cover_the_mails(api: TestClient, smtp: tuple[str, Mailbox],
                                          redis_client: redis.Redis, tmp_path: Any) -> None:
    """GDPR (issue 12's contract): the original mail and its attachment are exported with the
    conversation and erased with it, and so are the threading keys that point at it."""
    add(api.app.state.gateway.settings.redis_url, "boss", "admin")
    auth = login(api, "boss@shop.example")
    assert post(api, mail("helene@example.fr", "Retour", "Comment retourner ?", mid="<gdpr@client.example>",
                          attachment=PDF)).json()["status"] == "new"
    exported = api.get("/api/admin/privacy/export", params={"email": "helene@example.fr"}, headers=auth)
    assert exported.status_code == 200, exported.text
    (conv,) = exported.json()["conversations"]
    assert conv["channel"] == "email" and len(conv["original_mails"]) == 1 and len(conv["attachments"]) == 1
    assert list((tmp_path / "originals").iterdir())
    erased = api.post("/api/admin/privacy/erase", json={"email": "helene@example.fr"}, headers=auth)
    assert erased.status_code == 200, erased.text
    assert not list((tmp_path / "originals").iterdir())
    # left: the webhook's used token (random, 10 minutes) and the hashed daily reply count
    assert not [k for k in redis_client.scan_iter("support:mail:*")
                if not k.startswith(("support:mail:auto-replies:", "support:mail:mailgun:"))]
    assert not list((tmp_path / "files").rglob("*.pdf"))


def test_a_ticket_answered_from_the_tickets_view_stays_in_the_thread(api: TestClient,
                                                                    smtp: tuple[str, Mailbox]) -> None:
    """Agents answer tickets from the tickets view too: an e-mail ticket's answer is the
    conversation's threaded reply (signed Message-ID, In-Reply-To her mail), in its transcript."""
    _, box = smtp
    post(api, mail("helene@example.fr", "Paiement", "Quels moyens de paiement ?", mid="<pay@client.example>"))
    (auto,) = sent(box, 1)
    cid = KEYS.conversation_of_message_id(auto["Message-ID"])
    add(api.app.state.gateway.settings.redis_url, "ana")
    auth = login(api, "ana@shop.example")
    tickets = api.get("/api/agent/tickets", headers=auth).json()["tickets"]
    (ticket,) = [t for t in tickets if t["conversation_id"] == cid]
    res = api.post(f"/api/agent/tickets/{ticket['id']}/reply", headers=auth, json={"text": "Visa et PayPal."})
    assert res.status_code == 200, res.text
    answer = sent(box, 2)[1]
    assert KEYS.conversation_of_message_id(answer["Message-ID"]) == cid
    assert answer["In-Reply-To"] == auto["Message-ID"] and "Visa et PayPal." in answer.get_content()
    transcript = api.get(f"/api/agent/conversations/{cid}", headers=auth).json()["messages"]
    assert any(m["role"] == "agent" and m["text"] == "Visa et PayPal." for m in transcript)
    got = api.get(f"/api/agent/tickets/{ticket['id']}", headers=auth).json()
    assert [r["body"] for r in got["replies"]] == ["Visa et PayPal."]             # recorded once
    assert got["ticket"]["status"] == "pending"


def test_agents_read_the_whole_original_as_text_and_only_under_its_conversation(
        api: TestClient, smtp: tuple[str, Mailbox]) -> None:
    """The transcript keeps the new part; the console's "original" shows the whole mail (quotes,
    signature, recipients) as text: an HTML body comes converted, never as markup. The raw .eml
    is a download only. Abuse: anonymous, a key from another conversation, paths, bad keys."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Cc"] = "Hélène <helene@example.fr>", SUPPORT, "paul@example.fr"
    msg["Subject"], msg["Message-ID"] = "Retour <b>vase</b>", "<orig@client.example>"
    msg.set_content('<p>Bonjour, le vase est cassé.<img src=x onerror="alert(1)">'
                    "<script>alert(2)</script></p>"
                    "<p>Le lun. 3 juin, Boutique a écrit :</p><blockquote>Merci</blockquote>", subtype="html")
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="facture.pdf")
    assert post(api, bytes(msg)).json()["status"] == "new"
    other = post(api, mail("paul@example.fr", "Paiement", "Quels moyens de paiement ?"))
    assert other.json()["status"] == "new"
    add(api.app.state.gateway.settings.redis_url, "ana")
    auth = login(api, "ana@shop.example")
    queue = api.get("/api/agent/queue", headers=auth).json()["queue"]
    (item,) = [q for q in queue if q["subject"] == "Retour <b>vase</b>"]
    assert item["channel"] == "email" and item["files"] == 1
    cid = item["conversation_id"]
    (other_item,) = [q for q in queue if q["conversation_id"] != cid]
    assert other_item["files"] == 0
    messages = api.get(f"/api/agent/conversations/{cid}", headers=auth).json()["messages"]
    (shopper,) = [m for m in messages if m["role"] == "shopper"]
    key = shopper["message_id"]
    assert "Merci" not in shopper["text"]                                 # the transcript: the new part

    res = api.get(f"/api/agent/conversations/{cid}/mails/{key}", headers=auth)
    assert res.status_code == 200, res.text
    original = res.json()
    assert original["from"] == {"name": "Hélène", "address": "helene@example.fr"}
    assert original["cc"] == ["paul@example.fr"] and original["subject"] == "Retour <b>vase</b>"
    assert "Le lun. 3 juin, Boutique a écrit" in original["text"] and "Merci" in original["text"]
    assert "<" not in original["text"] and "onerror" not in original["text"]   # text, not markup
    assert original["attachments"] == [{"name": "facture.pdf", "type": "application/pdf", "size": len(PDF)}]
    raw = api.get(f"/api/agent/conversations/{cid}/mails/{key}/raw", headers=auth)
    assert raw.status_code == 200 and raw.content == bytes(msg)
    assert raw.headers["content-type"].startswith("message/rfc822")
    assert raw.headers["content-disposition"].startswith("attachment;")
    assert raw.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in raw.headers["content-security-policy"]

    # nobody without a token; not from another conversation; no path built from what is sent
    assert api.get(f"/api/agent/conversations/{cid}/mails/{key}").status_code == 401
    assert api.get(f"/api/agent/conversations/{cid}/mails/{key}/raw").status_code == 401
    other_cid = other_item["conversation_id"]
    for path in (f"{other_cid}/mails/{key}", f"{other_cid}/mails/{key}/raw", f"{cid}/mails/{key[:-1]}",
                 f"{cid}/mails/..%2F..%2Foriginals", f"{cid}/mails/{key.upper()}",
                 f"..%2F{cid}/mails/{key}", f"c-unknown/mails/{key}"):
        assert api.get(f"/api/agent/conversations/{path}", headers=auth).status_code == 404, path
