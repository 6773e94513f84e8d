"""The agent's working tools in a real browser on the real stack (issue 19): canned replies with
variables through "/", internal notes the shopper never receives, close with a reason, undo within
10 s, search by e-mail (closed conversations included) and reopen; the after-hours banner and a
manager opening chats now, on a gateway whose calendar says closed. In French: the screenshots
for docs/screenshots are the French console."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from kit import texts
from ops.redis_server import RedisServer
from tests.e2e.conftest import add_agent
from tests.stack import Gateway, Rasa, gateway

from .conftest import XSS, axe_violations, browser_in, poll, screenshot
from .helpers import PASSWORD, WAIT_MS, WebShopper, agent_token, sign_in, unique_email

pytestmark = pytest.mark.timeout(420)
T = texts.section("fr", "console")


def fr(key: str, **fields: Any) -> str:
    text = T[key]
    for name, value in fields.items():
        text = text.replace("{" + name + "}", str(value))
    return text


@pytest.fixture
def page_fr(browser: Browser) -> Iterator[Page]:
    with browser_in(browser, "fr-FR") as page:
        yield page


def bearer(page: Page) -> dict[str, str]:
    return {"Authorization": f"Bearer {agent_token(page)}"}


def test_canned_reply_note_close_undo_search_and_reopen(live: tuple[Gateway, Rasa, RedisServer],
                                                        page_fr: Page) -> None:
    gw, _, redis = live
    page = page_fr
    email = unique_email("lea")
    add_agent(redis.url, email, PASSWORD)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, gw, email, lang="fr")
    auth = bearer(page)

    shopper = WebShopper(gw.url)
    shopper.say("Bonjour, ma commande AL-240117 est arrivée abîmée")
    shopper.say("je veux parler à un conseiller")
    card = page.locator(f'#queue [data-cid="{shopper.cid}"]')
    expect(card).to_be_visible(timeout=WAIT_MS)
    customer = unique_email("zoe").replace("@shop.example", "@example.com")
    made = httpx.post(f"{gw.url}/api/agent/tickets", headers=auth, timeout=30, json={
        "conversation_id": shopper.cid, "email": customer, "message": "Vase cassé à la livraison"})
    assert made.status_code == 201, made.text
    card.get_by_role("button", name=re.compile("^" + re.escape(fr("queue.take_label", id="")))).click()
    expect(page.locator("#conv")).to_be_visible()
    expect(page.locator("#details")).to_contain_text(customer, timeout=WAIT_MS)   # the customer view

    # a first name for the variables, then "/" opens the canned replies
    page.get_by_label(T["profile.first_name"], exact=True).fill("Zoé")
    page.get_by_role("button", name=T["profile.first_name_save"]).click()
    expect(page.locator("#first-name-status")).to_have_text(T["profile.first_name_saved"])
    reply = page.locator("#reply-text")
    reply.fill("")
    reply.press_sequentially("/suiv")
    menu = page.locator("#canned-menu")
    expect(menu).to_be_visible()
    expect(menu.locator('[role="option"]').first).to_contain_text("/suivi")
    # focus leaving the box and coming back at once (a refresh, a click) does not close the menu
    page.evaluate("""() => { const box = document.getElementById('reply-text');
                             document.getElementById('first-name').focus(); box.focus(); }""")
    page.wait_for_timeout(400)
    expect(menu).to_be_visible()
    reply.press("Enter")                                    # inserts; does not send
    expect(reply).to_have_value("Je vérifie l’état de votre commande AL-240117 et je reviens vers vous "
                                "dans un instant.")
    reply.press("Enter")                                    # sends
    shopper.wait_for("agent", "AL-240117")
    reply.press_sequentially("/bonj")
    reply.press("Enter")
    expect(reply).to_have_value(re.compile("^Bonjour Zoé, je suis"))
    reply.fill("")

    # an internal note: shown to agents, apart, never sent
    page.get_by_role("radio", name=T["notes.mode_note"]).check()
    note = "Cliente fidèle : geste commercial accordé " + XSS
    reply.fill(note)
    page.locator("#reply-form").get_by_role("button", name=T["notes.add"]).click()
    shown = page.locator("#transcript .msg--note")
    expect(shown).to_have_count(1)
    expect(shown).to_contain_text(note)                     # as text: the XSS canary never fires
    expect(shown.locator(".role")).to_have_text(T["roles.note"])       # labelled as a note, in French
    assert page.locator("#transcript img").count() == 0
    assert all(note not in str(m) for m in shopper.messages())
    screenshot(page, "console-conversation-fr")
    assert (found := axe_violations(page)) == [], found

    # close as a duplicate, undo, then close for good (solved)
    page.get_by_role("button", name=T["conversation.close"], exact=True).click()
    expect(page.locator("#close-form")).to_be_visible()
    assert (found := axe_violations(page)) == [], found
    page.get_by_label(T["close_reasons.duplicate"]).check()
    page.locator("#close-form").get_by_role("button", name=T["close.confirm"]).click()
    expect(page.locator("#undo-bar")).to_be_visible()
    expect(page.locator("#conv-empty")).to_be_visible()
    page.get_by_role("button", name=T["close.undo"]).click()
    expect(page.locator("#conv")).to_be_visible()
    expect(page.locator("#undo-bar")).to_be_hidden()
    state = httpx.get(f"{gw.url}/api/agent/conversations/{shopper.cid}", headers=auth, timeout=30).json()
    assert state["conversation"]["state"] == "agent", "undone in time: the server never heard of the close"
    page.get_by_role("button", name=T["conversation.close"], exact=True).click()
    page.locator("#close-form").get_by_role("button", name=T["close.confirm"]).click()
    expect(page.locator("#undo-bar")).to_be_hidden(timeout=WAIT_MS)     # 10 s later, sent
    shopper.wait_for("bot", "terminée")
    closed = poll(lambda: (c := httpx.get(f"{gw.url}/api/agent/conversations/{shopper.cid}", headers=auth,
                                          timeout=30).json()["conversation"])["state"] == "bot" and c,
                  "the conversation closed")
    assert closed["close_reason"] == "solved"

    # found again by the customer's e-mail, then reopened
    page.get_by_label(T["search.label"]).fill(customer.upper())
    page.get_by_label(T["search.label"]).press("Enter")
    results = page.locator("#search-results")
    expect(results).to_be_visible()
    hit = page.locator("#search-conversations li", has_text=shopper.cid[2:8])
    expect(hit).to_contain_text(fr("search.state_closed", reason=T["close_reasons.solved"]))
    expect(page.locator("#search-tickets li")).to_have_count(1)
    screenshot(page, "console-search-fr")
    assert (found := axe_violations(page)) == [], found
    hit.get_by_role("button").click()
    expect(page.locator("#conv-reopen")).to_be_visible()
    page.get_by_role("button", name=T["close.reopen"]).click()
    expect(page.locator("#reply-form")).to_be_visible()
    expect(page.locator(f'#mine [data-cid="{shopper.cid}"]')).to_be_visible()
    shopper.wait_for("system", "rejoint")
    assert errors == [], errors


@pytest.fixture(scope="module")
def closed_gateway(live: tuple[Gateway, Rasa, RedisServer], closed_shop: Path, shared_index: Path,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A second gateway on the same Redis whose calendar says closed today (the console needs no bot)."""
    _, _, redis = live
    with gateway(redis.url, tmp_path_factory.mktemp("closed-gw"), shop_config=closed_shop,
                 index_dir=shared_index) as gw:
        yield gw


def test_a_manager_opens_chats_outside_the_calendar(live: tuple[Gateway, Rasa, RedisServer],
                                                    closed_gateway: Gateway, page_fr: Page) -> None:
    _, _, redis = live
    page = page_fr
    manager = unique_email("max")
    add_agent(redis.url, manager, PASSWORD, role="manager")
    sign_in(page, closed_gateway, manager, lang="fr")
    banner = page.locator("#closed-banner")
    expect(banner).to_be_visible(timeout=WAIT_MS)
    expect(banner).to_contain_text("Boutique fermée")
    page.get_by_label(T["opening.open_label"]).fill("23:59")
    assert (found := axe_violations(page)) == [], found
    page.get_by_role("button", name=T["opening.open"]).click()
    opened = page.locator("#opened-banner")
    expect(opened).to_be_visible(timeout=WAIT_MS)
    expect(opened).to_contain_text(manager)
    expect(banner).to_be_hidden()
    availability = httpx.get(f"{closed_gateway.url}/api/chat/availability", timeout=30).json()
    assert availability["status"] == "human"                 # the shopper is offered a person now
    page.get_by_role("button", name=T["opening.back"]).click()
    expect(banner).to_be_visible(timeout=WAIT_MS)
    assert httpx.get(f"{closed_gateway.url}/api/chat/availability", timeout=30).json()["status"] == "closed"


def test_an_agent_sees_the_closed_banner_without_the_managers_button(live: tuple[Gateway, Rasa, RedisServer],
                                                                      closed_gateway: Gateway,
                                                                      page_fr: Page) -> None:
    _, _, redis = live
    agent = unique_email("ana")
    add_agent(redis.url, agent, PASSWORD)
    sign_in(page_fr, closed_gateway, agent, lang="fr")
    expect(page_fr.locator("#closed-banner")).to_be_visible(timeout=WAIT_MS)
    expect(page_fr.locator("#open-now-form")).to_be_hidden()
    token = agent_token(page_fr)
    refused = httpx.post(f"{closed_gateway.url}/api/agent/hours/open-now", json={"until": "23:59"},
                         headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert refused.status_code == 403


def test_an_admin_writes_a_canned_reply_that_agents_then_insert(live: tuple[Gateway, Rasa, RedisServer],
                                                                 page_fr: Page) -> None:
    gw, _, redis = live
    page = page_fr
    admin = unique_email("boss")
    add_agent(redis.url, admin, PASSWORD, role="admin")
    sign_in(page, gw, admin, lang="fr")
    page.get_by_role("button", name=T["canned.manage"]).click()
    dialog = page.locator("#canned-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#canned-admin-list li").first).to_be_visible()      # the seeded set
    page.get_by_label(T["canned.shortcut"], exact=True).fill("avoir")
    page.get_by_label(T["canned.name"], exact=True).fill("Avoir " + XSS)
    page.get_by_label(T["canned.body"], exact=True).fill("Bonjour {prenom}")
    dialog.get_by_role("button", name=T["canned.save"]).click()
    expect(page.locator("#canned-error")).to_contain_text("prenom")           # refused, said why
    page.get_by_label(T["canned.body"], exact=True).fill("{first_name}, votre avoir {order_number} est prêt.")
    dialog.get_by_role("button", name=T["canned.save"]).click()
    expect(dialog.locator("#canned-admin-list li", has_text="/avoir")).to_have_count(1)
    assert (found := axe_violations(page)) == [], found
    dialog.get_by_role("button", name=T["canned.close"]).click()
    listed = httpx.get(f"{gw.url}/api/agent/canned", params={"lang": "fr"}, headers=bearer(page), timeout=30)
    made = next(r for r in listed.json()["canned"] if r["shortcut"] == "avoir")
    assert made["title"] == "Avoir " + XSS and made["updated_by"] == admin
    assert page.locator("#canned-admin-list img").count() == 0
    gone = httpx.delete(f"{gw.url}/api/agent/canned/{made['id']}", headers=bearer(page), timeout=30)
    assert gone.status_code == 200
