"""An e-mail conversation in the console, in a real browser on the real stack (issue 21): the
queue shows the channel, the subject and the attachments; the transcript says which files were
not kept; the agent reads the whole original (quotes, signature, recipients) as text, and
downloads the .eml. Everything the sender wrote (name, subject, body, file names) stays text."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

from kit import texts
from ops.redis_server import RedisServer
from tests.e2e.conftest import add_agent
from tests.mailgun import PATH, mailgun_form
from tests.stack import Gateway, Rasa

from .conftest import MAILGUN_KEY, SUPPORT_ADDRESS, XSS, axe_violations, browser_in
from .helpers import PASSWORD, WAIT_MS, sign_in, unique_email

pytestmark = pytest.mark.timeout(300)
T = texts.section("fr", "console")
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def fr(key: str, **fields: Any) -> str:
    text = T[key]
    for name, value in fields.items():
        text = text.replace("{" + name + "}", str(value))
    return text


def hostile_mail(sender: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = f'"Hélène {XSS}" <{sender}>'
    msg["To"], msg["Cc"] = SUPPORT_ADDRESS, "paul@lumen-client.fr"
    msg["Subject"] = f"Vase cassé {XSS}"
    msg.set_content(f"Bonjour, mon vase est arrivé cassé {XSS}.\n\n"
                    f"Le lun. 3 juin 2026, Boutique <{SUPPORT_ADDRESS}> a écrit :\n"
                    "> Merci de votre commande\n")
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="facture.pdf")
    msg.add_attachment(b"PK\x03\x04", maintype="application", subtype="zip", filename="photos.zip.zip")
    return bytes(msg)


def test_an_agent_reads_an_email_conversation_and_its_original(live: tuple[Gateway, Rasa, RedisServer],
                                                               browser: Browser) -> None:
    gw, _, redis = live
    email = unique_email("lea")
    add_agent(redis.url, email, PASSWORD)
    sender = unique_email("helene").replace("@shop.example", "@lumen-client.fr")
    raw = hostile_mail(sender)
    res = httpx.post(gw.url + PATH, data=mailgun_form(raw, MAILGUN_KEY), timeout=60)
    assert res.status_code == 200 and res.json()["status"] == "new", res.text
    subject = fr("queue.subject", subject=f"Vase cassé {XSS}")

    with browser_in(browser, "fr-FR") as page:
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        sign_in(page, gw, email, lang="fr")
        card = page.locator("#queue .card", has_text=subject)
        expect(card).to_be_visible(timeout=WAIT_MS)
        expect(card).to_contain_text(T["channels.email"])
        expect(card.locator(".tag--files")).to_have_text(fr("queue.files", n=1))
        card.get_by_role("button", name=fr("queue.take")).click()
        expect(page.locator("#conv-subject")).to_have_text(subject, timeout=WAIT_MS)
        transcript = page.locator("#transcript")
        expect(transcript).to_contain_text(f"Bonjour, mon vase est arrivé cassé {XSS}.")
        expect(transcript).not_to_contain_text("Merci de votre commande")    # the quote: only in the original
        dropped = fr("mail.dropped_file", name="photos.zip.zip", reason=T["mail.dropped.archive_bomb_name"])
        expect(transcript).to_contain_text(fr("events.mail_attachments_dropped", files=dropped))

        opener = transcript.get_by_role("button", name=T["mail.original"])
        opener.click()
        dialog = page.locator("#mail-dialog")
        expect(dialog).to_be_visible()
        expect(page.locator("#mail-text")).to_contain_text("Merci de votre commande")
        expect(page.locator("#mail-text")).to_contain_text(f"vase est arrivé cassé {XSS}")
        expect(page.locator("#mail-headers")).to_contain_text(f"Hélène {XSS} <{sender}>")
        expect(page.locator("#mail-headers")).to_contain_text("paul@lumen-client.fr")
        expect(page.locator("#mail-files")).to_contain_text("facture.pdf")
        expect(page.locator("#mail-files")).to_contain_text(dropped)
        assert page.locator("#mail-dialog img, #transcript img, #queue img").count() == 0
        assert axe_violations(page, "#mail-dialog") == []

        with page.expect_download() as download:
            page.get_by_role("button", name=T["mail.download"]).click()
        assert download.value.suggested_filename.endswith(".eml")
        with open(download.value.path(), "rb") as saved:
            assert saved.read() == raw

        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
        expect(opener).to_be_focused()
        assert errors == []
