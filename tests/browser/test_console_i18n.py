"""The agent console in French and English, on the real stack: a French browser gets the French
console before and after login; the agent switches to English in the top bar (saved on the account:
it survives a reload and a new login in another French browser), then back to French; an English
browser gets English until the account says otherwise; axe-core in both languages; texts that look
like HTML stay text, and a page whose texts cannot come still shows (their keys)."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from kit.texts import text
from tests.e2e.conftest import add_agent
from tests.stack import Gateway

from .conftest import XSS, axe_violations, browser_in, screenshot
from .helpers import (
    PASSWORD,
    WAIT_MS,
    Live,
    WebShopper,
    agent_token,
    script_errors,
    sign_in,
    unique_email,
)

pytestmark = pytest.mark.timeout(300)


def account_lang(gw: Gateway, page: Page) -> str | None:
    me = httpx.get(f"{gw.url}/api/agent/me", headers={"Authorization": f"Bearer {agent_token(page)}"})
    return me.json()["lang"]  # type: ignore[no-any-return]




def test_french_by_default_then_english_and_back(live: Live, browser: Browser) -> None:
    gw, _, redis = live
    email = unique_email("camille")
    add_agent(redis.url, email, PASSWORD)
    html = "html"
    with browser_in(browser, "fr-FR") as page:
        errors = script_errors(page)
        page.goto(f"{gw.url}/console")             # before login: the browser's language
        expect(page.locator(html)).to_have_attribute("lang", "fr")
        expect(page).to_have_title("Console conseillers")
        expect(page.locator("#login-title")).to_have_text("◆ Console du service client")
        page.get_by_label("Adresse e-mail", exact=True).fill(email)
        page.get_by_label("Mot de passe", exact=True).fill("pas le bon mot de passe")
        page.get_by_role("button", name="Se connecter").click()
        expect(page.locator("#login-error")).to_have_text("Adresse e-mail ou mot de passe incorrect.")
        sign_in(page, gw, email, "fr")
        expect(page.locator("#connection")).to_have_text("En direct", timeout=WAIT_MS)
        expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()
        expect(page.get_by_label("Votre statut")).to_have_value("online")
        expect(page.locator("#presence option:checked")).to_have_text("En ligne")
        expect(page.get_by_label("Langue de l’interface")).to_have_value("fr")
        assert account_lang(gw, page) is None      # nothing chosen yet: the browser decided

        held, waiting = WebShopper(gw.url), WebShopper(gw.url)
        for shopper in (held, waiting):
            shopper.say("je veux parler à un conseiller")
        card = page.locator(f'#queue [data-cid="{waiting.cid}"]')
        expect(card).to_be_visible(timeout=WAIT_MS)
        expect(card.locator(".wait")).to_contain_text(re.compile(r"En attente depuis \d+:\d\d"))
        expect(card).to_contain_text("Chat web")
        expect(page.locator("#live")).to_contain_text("en attente")
        page.locator(f'#queue [data-cid="{held.cid}"]').get_by_role(
            "button", name=re.compile("^Prendre la conversation")).click()
        expect(page.get_by_role("button", name="Clôturer", exact=True)).to_be_visible()
        expect(page.get_by_role("button", name="Transférer", exact=True)).to_be_visible()
        expect(page.locator("#transcript .msg--shopper .role").first).to_have_text("Client")
        expect(page.locator("#details")).to_contain_text("Canal")
        expect(page.locator("#details")).to_contain_text("Chat web")
        # what the gateway refuses is said in French too (its `key`), not in the API's English
        page.locator("#reply-text").evaluate("box => box.removeAttribute('maxlength')")   # past the form
        page.get_by_label("Répondre au client").fill("x" * 2001)
        page.get_by_role("button", name="Envoyer", exact=True).click()
        expect(page.locator("#reply-error")).to_have_text(
            "Non envoyé\u00a0: Un message fait au plus 2000 caractères.")
        errors[:] = [e for e in errors if "status of 413" not in e]       # the refusal provoked above
        page.get_by_label("Répondre au client").fill("Bonjour, je regarde votre commande.")
        shot = screenshot(page, "console-fr")
        assert shot.stat().st_size > 10_000
        assert axe_violations(page) == []

        page.get_by_label("Langue de l’interface").select_option("en")    # saved, then shown at once
        expect(page.locator(html)).to_have_attribute("lang", "en")
        expect(page.get_by_role("button", name="Log out")).to_be_visible()
        expect(page.get_by_role("button", name="Close", exact=True)).to_be_visible()   # redrawn in place
        expect(page.locator("#transcript .msg--shopper .role").first).to_have_text("Customer")
        expect(card.locator(".wait")).to_contain_text(re.compile(r"Waiting \d+:\d\d"))
        expect(page.locator("#connection")).to_have_text("Live")
        expect(page.locator("#details")).to_contain_text("Channel")
        expect(page.locator("#live")).to_have_text("The console is now in English.")
        expect(page.get_by_label("Reply to the customer")).to_have_value(
            "Bonjour, je regarde votre commande.")                          # the draft is kept
        assert re.match(r"^\(\d+\) Agent console$", page.title()), page.title()
        assert account_lang(gw, page) == "en"
        shot = screenshot(page, "console-en")
        assert shot.stat().st_size > 10_000
        assert axe_violations(page) == []

        page.reload()                                                       # the account remembers
        expect(page.locator("#app")).to_be_visible()
        expect(page.locator(html)).to_have_attribute("lang", "en")
        expect(page.get_by_role("button", name="Log out")).to_be_visible()
        token = agent_token(page)
        assert errors == [], errors

    with browser_in(browser, "fr-FR") as page:                             # another French browser
        errors = script_errors(page)
        page.goto(f"{gw.url}/console")
        expect(page.get_by_role("button", name="Se connecter")).to_be_visible()   # before login: French
        sign_in(page, gw, email, "fr")
        expect(page.locator(html)).to_have_attribute("lang", "en")          # after: the account's English
        expect(page.locator("#connection")).to_have_text("Live", timeout=WAIT_MS)
        page.get_by_label("Display language").select_option("fr")          # and back
        expect(page.locator(html)).to_have_attribute("lang", "fr")
        expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()
        expect(page.locator("#live")).to_have_text("La console est maintenant en français.")
        assert account_lang(gw, page) == "fr"
        assert axe_violations(page) == []
        page.get_by_role("button", name="Se déconnecter").click()
        expect(page.get_by_role("button", name="Se connecter")).to_be_visible()
        assert errors == [], errors

    agent = httpx.Client(base_url=gw.url, headers={"Authorization": f"Bearer {token}"})  # nobody left waiting
    assert agent.post(f"/api/agent/conversations/{held.cid}/close").status_code == 200
    assert agent.post(f"/api/agent/conversations/{waiting.cid}/claim").status_code == 200
    assert agent.post(f"/api/agent/conversations/{waiting.cid}/close").status_code == 200


def test_an_english_browser_gets_english_until_the_account_says_french(live: Live, page: Page) -> None:
    gw, _, redis = live
    email = unique_email("sam")
    add_agent(redis.url, email, PASSWORD)
    page.goto(f"{gw.url}/console")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    sign_in(page, gw, email)                                                # the English helper
    auth = {"Authorization": f"Bearer {agent_token(page)}"}
    assert httpx.post(f"{gw.url}/api/agent/language", json={"lang": "fr"}, headers=auth).status_code == 200
    page.reload()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()
    expect(page.locator("#connection")).to_have_text("En direct", timeout=WAIT_MS)
    assert axe_violations(page) == []


def test_texts_stay_text_and_a_page_without_texts_still_shows(live: Live, page: Page) -> None:
    gw = live[0]
    real = httpx.get(f"{gw.url}/api/texts/console", params={"lang": "en"}).json()
    hostile = {**real["texts"], "login.submit": XSS, "login.lead": "<b>bold</b> {x}",
               "login.email": '"><script>alert(3)</script>', "title": "</title><script>alert(4)</script>"}
    page.route(re.compile(r"/api/texts/console\?"),
               lambda route: route.fulfill(json={**real, "texts": hostile}))
    page.goto(f"{gw.url}/console")
    submit = page.locator("#login-form button[type=submit]")
    expect(submit).to_have_text(XSS)
    expect(page.locator(".login__lead")).to_have_text("<b>bold</b> {x}")
    expect(page.locator("label[for=login-email]")).to_have_text('"><script>alert(3)</script>')
    assert page.locator("#login-view img, #login-view b, #login-view script").count() == 0
    assert page.title() == "</title><script>alert(4)</script>"
    # the dialog canary of the `page` fixture fails the test if any of it ran

    page.unroute(re.compile(r"/api/texts/console\?"))
    page.route(re.compile(r"/api/texts/"), lambda route: route.abort())
    page.reload()
    expect(submit).to_have_text("login.submit")                             # the neutral fallback: keys
    expect(submit).to_be_visible()
    assert text("en", "console.login.submit") == "Sign in"
