"""E-mail end to end (issue 21), every process real: Dovecot holds the shop's support mailbox and
the shopper's, a local MTA delivers what the gateway sends into them, and the gateway (its own
process) reads the support mailbox by IMAP IDLE. No Rasa: e-mail has no bot turn.

A French mail with a PDF -> a ticket and the FAQ's answer in the shopper's inbox -> she answers
from another client that keeps only References -> the same conversation -> an agent answers in
the console -> her inbox gets it, threaded. Then the gateway is stopped and restarted while mail
keeps arriving: nothing lost, nothing doubled. An auto-responder and a bounce get no reply."""

from __future__ import annotations

import secrets
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import redis

from ops.ports import free_port
from ops.redis_server import RedisServer
from tests.dovecot import Dovecot, LocalMta
from tests.helpers import wait_for
from tests.stack import REPO, gateway

from .conftest import AgentClient, add_agent

pytestmark = pytest.mark.timeout(600)
SUPPORT, SHOPPER, PASSWORD = "support@atelier-lumen.fr", "helene@lumen-client.fr", "imap-secret"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def compose(subject: str, body: str, *, sender: str = SHOPPER, headers: dict[str, str] | None = None,
            pdf: bool = False) -> tuple[bytes, str]:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, SUPPORT, subject
    msg["Message-ID"] = mid = f"<{secrets.token_hex(8)}@lumen-client.fr>"
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    if pdf:
        msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="bon-de-commande.pdf")
    return bytes(msg), mid


def inbox(imap: Dovecot) -> list[Any]:
    return [message_from_bytes(raw, policy=policy.default) for raw in imap.messages(SHOPPER)]


def test_an_email_thread_end_to_end_and_a_reader_restart(shared_index: Path, tmp_path: Path) -> None:
    with Dovecot({SUPPORT: PASSWORD, SHOPPER: "shopper"}) as imap, LocalMta(imap) as mta, \
            RedisServer(port=free_port(), data_dir=tmp_path / "redis", use_env=False) as rs:
        env = {"IMAP_URL": f"imap://{quote(SUPPORT)}:{PASSWORD}@127.0.0.1:{imap.port}/INBOX",
               "IMAP_POLL_S": "300", "SMTP_URL": mta.url, "SMTP_FROM": f"Atelier Lumen <{SUPPORT}>",
               "MAIL_SECRET": "e2e-mail-secret-0123456789", "MAIL_DIR": str(tmp_path / "mail"),
               "SURVEY_SECRET": "e2e-survey-secret", "PUBLIC_URL": "https://shop.test"}
        r = redis.Redis.from_url(rs.url, decode_responses=True)

        def start() -> Any:
            return gateway(rs.url, tmp_path, shop_config=REPO / "config" / "shop.yml", index_dir=shared_index,
                           extra_env=env)

        with start() as gw:
            # the reader starts at the next new mail: wait until it holds the mailbox
            wait_for(lambda: r.exists(*r.keys("support:mail:imap:*:lease")), "the reader's lease")
            first, first_id = compose("Retour d'un article", "Bonjour, comment retourner un article ? "
                                      "Je joins mon bon de commande.", pdf=True)
            imap.append(SUPPORT, first)
            (auto,) = wait_for(lambda: inbox(imap), "the automatic reply")
            assert auto["In-Reply-To"] == first_id and auto["Auto-Submitted"] == "auto-replied"
            assert auto["Reply-To"].startswith("support+") and "[#T-" in auto["Subject"]
            body = auto.get_content()
            assert "retour" in body.lower() and "T-" in body

            add_agent(rs.url, "ana@shop.example", "agent-password-1")
            agent = AgentClient(gw.url, "ana@shop.example", "agent-password-1")
            (queued,) = agent.get("/api/agent/queue").json()["queue"]
            cid = queued["conversation_id"]
            assert queued["channel"] == "email" and queued["summary"] == "Retour d'un article"
            conv = agent.get(f"/api/agent/conversations/{cid}").json()
            files = [f["name"] for m in conv["messages"] for f in m.get("files", [])]
            assert files == ["bon-de-commande.pdf"]

            # her answer from another client: References only, to the support address itself
            answer, answer_id = compose("Re: Retour", "Et si l'article est abîmé ?",
                                        headers={"References": f"{first_id} {auto['Message-ID']}"})
            imap.append(SUPPORT, answer)
            wait_for(lambda: any("abîmé" in m["text"] for m in
                              agent.get(f"/api/agent/conversations/{cid}").json()["messages"]),
                  "her answer in the same conversation")
            assert agent.post(f"/api/agent/conversations/{cid}/claim").status_code == 200
            said = agent.post(f"/api/agent/conversations/{cid}/messages",
                              json={"text": "Bonjour Hélène, voici votre étiquette de retour."})
            assert said.status_code == 200, said.text
            reply = wait_for(lambda: [m for m in inbox(imap) if "Auto-Submitted" not in m],
                          "the agent's mail")[0]
            assert reply["In-Reply-To"] == answer_id and first_id in reply["References"]
            assert "étiquette" in reply.get_content() and reply["Subject"].startswith("Re: Retour")

            # an out-of-office and a bounce: taken in, never answered
            ooo, _ = compose("Absent", "Je suis absent", sender="boss@lumen-client.fr",
                             headers={"Auto-Submitted": "auto-replied"})
            bounce = (b"From: MAILER-DAEMON@lumen-client.fr\r\nTo: support@atelier-lumen.fr\r\n"
                      b"Subject: Undelivered\r\n"
                      b"Message-ID: <bounce1@lumen-client.fr>\r\nContent-Type: multipart/report; "
                      b"report-type=delivery-status; boundary=B\r\n\r\n--B\r\n"
                      b"Content-Type: text/plain\r\n\r\nfailed\r\n--B--\r\n")
            imap.append(SUPPORT, ooo)
            imap.append(SUPPORT, bounce)
            wait_for(lambda: r.zcard("support:handoff:queue") >= 2, "the two robots' tickets")
            assert mta.undelivered == []                   # nothing went to boss@ or MAILER-DAEMON@

            # mail keeps coming while the gateway stops
            for i in range(3):
                imap.append(SUPPORT, compose(f"Question {i}", "Quels moyens de paiement ?",
                                             sender=f"client{i}@lumen-client.fr")[0])
        for i in range(3, 6):
            imap.append(SUPPORT, compose(f"Question {i}", "Quels moyens de paiement ?",
                                         sender=f"client{i}@lumen-client.fr")[0])
        with start():
            wait_for(lambda: r.zcard("support:handoff:queue") >= 8, "the six mails sent around the restart")
            time.sleep(2)
            queued_now = r.zrange("support:handoff:queue", 0, -1)
            subjects = sorted(s for c in queued_now if (s := r.hget(f"support:conv:{c}", "subject") or "")
                              .startswith("Question"))
            assert subjects == [f"Question {i}" for i in range(6)]
            assert len(mta.undelivered) == 6      # one automatic reply each (their mailboxes are not ours)
