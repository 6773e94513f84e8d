"""The FAQ studio (issue 22) in a real browser on the real stack: an editor writes a new entry
(markdown preview, an invalid reason flagged next to its field), tries a question against the
draft, publishes (the bot's search serves it within seconds), edits it, and restores the first
version from the history. Everything typed stays text; the page is axe-clean; a plain agent is
refused. The live stack's KB is shared by the browser tests: this only ever adds a new entry
with an id of its own, and never deletes."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from kit import texts
from ops.redis_server import RedisServer
from tests.e2e.conftest import add_agent
from tests.stack import Gateway, Rasa

from .conftest import XSS, axe_violations, browser_in, poll, screenshot
from .helpers import PASSWORD, WAIT_MS, bot_bubble, open_widget, say, unique_email

pytestmark = pytest.mark.timeout(300)
T = texts.section("fr", "studio")
SLOW_MS = 90_000      # a draft index, an impact run on a loaded machine
QUESTIONS = ["Proposez-vous la gravure personnalisée\u202f?",
             "Puis-je faire graver un prénom sur un vase\u202f?", "gravure personnalisée sur une lampe"]
ANSWER = "Oui, la **gravure personnalisée** est offerte sur les vases et les lampes."
ADDED = " Comptez trois jours ouvrés de plus."


def fr(key: str, **fields: Any) -> str:
    text = T[key]
    for name, value in fields.items():
        text = text.replace("{" + name + "}", str(value))
    return text


def studio_sign_in(page: Page, gw: Gateway, email: str) -> None:
    page.goto(f"{gw.url}/studio")
    page.get_by_label(T["login.email"], exact=True).fill(email)
    page.get_by_label(T["login.password"], exact=True).fill(PASSWORD)
    page.get_by_role("button", name=T["login.submit"]).click()


def publish(page: Page) -> None:
    """Publish; if the impact check says the change makes answers worse, publish anyway."""
    page.get_by_role("button", name=T["form.publish"], exact=True).click()
    # the page says "publishing" as soon as the button is pressed: the previous "published" is gone
    done = page.locator("#publish-status", has_text=re.compile(re.escape(T["publish.done"]).replace(
        re.escape("{id}"), ".+")))
    anyway = page.get_by_role("button", name=T["impact.publish_anyway"])
    expect(done.or_(anyway)).to_be_visible(timeout=SLOW_MS)
    if anyway.is_visible():
        expect(page.locator("#impact-rows tr").first).to_be_visible()
        anyway.click()
        expect(done).to_be_visible(timeout=SLOW_MS)


def searched(gw: Gateway, question: str) -> dict[str, Any]:
    res = httpx.get(f"{gw.url}/api/search", params={"q": question, "lang": "fr"}, timeout=30)
    assert res.status_code == 200, res.text
    return res.json()


def test_an_editor_writes_publishes_edits_and_restores_an_entry(live: tuple[Gateway, Rasa, RedisServer],
                                                                 browser: Browser) -> None:
    gw, _, redis = live
    editor, agent = unique_email("redac"), unique_email("agent")
    add_agent(redis.url, editor, PASSWORD, role="editor")
    add_agent(redis.url, agent, PASSWORD)
    entry_id = f"studio-test-{uuid.uuid4().hex[:8]}-fr"
    title = "Gravure personnalisée"
    page_res = httpx.get(f"{gw.url}/studio", timeout=30)
    assert page_res.status_code == 200 and "script-src 'self'" in page_res.headers["content-security-policy"]

    with browser_in(browser, "fr-FR") as page:
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))

        studio_sign_in(page, gw, agent)                      # a plain agent: refused on the page
        expect(page.locator("#login-error")).to_have_text(T["login.denied"])
        expect(page.locator("#studio")).to_be_hidden()
        assert page.evaluate("sessionStorage.getItem('studio.token')") is None
        assert page.evaluate("document.documentElement.lang") == "fr"

        studio_sign_in(page, gw, editor)
        expect(page.locator("#entries li").first).to_be_visible(timeout=WAIT_MS)
        reasons = page.locator("#reason-codes option").evaluate_all("(os) => os.map(o => o.value)")
        reason = reasons[0]
        page.get_by_label(T["list.untranslated"]).check()     # the filters narrow the list
        page.get_by_label(T["list.untranslated"]).uncheck()
        page.get_by_label(T["list.lang"], exact=True).select_option("en")
        metas = page.locator("#entries .entry-meta").all_inner_texts()
        assert metas and all("· Anglais ·" in t for t in metas), metas
        page.get_by_label(T["list.lang"], exact=True).select_option("")

        # a new entry, by keyboard-reachable controls only
        page.get_by_role("button", name=T["list.new"]).click()
        expect(page.locator("#editor-title")).to_have_text(T["editor.new"])
        page.get_by_label(T["form.id"], exact=True).fill(entry_id)
        page.get_by_label(T["form.lang"], exact=True).select_option("fr")
        page.get_by_label(T["form.reason"], exact=True).fill("motif/inexistant")
        page.get_by_label(T["form.title"], exact=True).fill(title)
        page.get_by_label(fr("form.question_n", n=1), exact=True).fill(QUESTIONS[0])
        for n, question in enumerate(QUESTIONS[1:], start=2):
            page.get_by_role("button", name=T["form.add_question"]).click()
            expect(page.get_by_label(fr("form.question_n", n=n), exact=True)).to_be_focused()
            page.keyboard.type(question)
        page.get_by_label(T["form.answer"], exact=True).fill(ANSWER)
        expect(page.locator("#preview strong")).to_have_text("gravure personnalisée", timeout=WAIT_MS)

        reason_error = page.locator("#issues-reason .issue--error")       # inline, next to its field
        expect(reason_error).to_be_visible(timeout=WAIT_MS)
        expect(reason_error).to_have_attribute("role", "alert")
        reason_input = page.get_by_label(T["form.reason"], exact=True)
        expect(reason_input).to_have_attribute("aria-invalid", "true")
        assert "issues-reason" in (reason_input.get_attribute("aria-describedby") or "")
        reason_input.fill(reason)
        expect(reason_error).to_have_count(0, timeout=WAIT_MS)
        expect(page.locator("#check-status")).to_have_text(T["check.ok"], timeout=WAIT_MS)

        try_box = page.get_by_label(T["try.question"], exact=True)
        try_box.fill("Faites-vous de la gravure personnalisée\u202f?")
        page.get_by_role("button", name=T["try.submit"], exact=True).click()
        expect(page.locator("#try-draft tbody")).to_contain_text(title, timeout=SLOW_MS)
        expect(page.locator("#try-draft tr.mine")).to_have_count(1)
        expect(page.locator("#try-live tbody")).not_to_contain_text(entry_id)
        assert axe_violations(page) == []
        screenshot(page, "studio-fr", full_page=True)

        publish(page)
        started = time.monotonic()
        found = poll(lambda: any(h["id"] == entry_id for h in searched(gw, QUESTIONS[0])["hits"]),
                     "the search serving the new entry", timeout=5)
        assert found and time.monotonic() - started <= 5.5
        expect(page.locator("#editor-title")).to_have_text(fr("editor.edit", id=entry_id))
        expect(page.get_by_label(T["form.id"], exact=True)).to_have_attribute("readonly", "")
        expect(page.locator("#entries button.entry", has_text=entry_id)).to_have_count(1, timeout=WAIT_MS)
        expect(page.locator("#versions tr")).to_have_count(1, timeout=WAIT_MS)

        # an edit, then back to the first version
        shopper = page.context.new_page()     # a shopper on the shop's site, the widget open
        open_widget(shopper, gw.url)
        page.get_by_label(T["form.answer"], exact=True).fill(ANSWER + ADDED)
        publish(page)
        expect(page.locator("#versions tr")).to_have_count(2, timeout=WAIT_MS)
        poll(lambda: any("trois jours" in h["answer"] for h in searched(gw, QUESTIONS[0])["hits"]
                         if h["id"] == entry_id), "the edit served", timeout=5)
        say(shopper, QUESTIONS[0])             # the bot answers with the new text
        expect(bot_bubble(shopper, "trois jours")).to_be_visible(timeout=5_000)
        shopper.close()
        oldest = page.locator("#versions tr").last
        expect(oldest.locator("th")).to_have_text(re.compile(r"\d{4}"))      # a date, in French
        oldest.get_by_role("button", name=re.compile("^" + re.escape(T["history.view"]))).click()
        expect(page.locator("#version-text")).to_contain_text("**gravure personnalisée**")
        expect(page.locator("#version-text")).not_to_contain_text("trois jours")
        oldest.get_by_role("button", name=re.compile("^" + re.escape(T["history.restore"]))).click()
        expect(page.get_by_label(T["form.answer"], exact=True)).to_have_value(ANSWER, timeout=WAIT_MS)
        expect(page.locator("#versions tr")).to_have_count(3, timeout=WAIT_MS)
        poll(lambda: all("trois jours" not in h["answer"] for h in searched(gw, QUESTIONS[0])["hits"]),
             "the restored text served", timeout=5)
        assert axe_violations(page) == []

        # markup typed anywhere stays text; the preview never grows an <img>
        page.get_by_role("button", name=T["list.new"]).click()
        page.get_by_label(T["form.id"], exact=True).fill(f"studio-xss-{uuid.uuid4().hex[:8]}-fr")
        page.get_by_label(T["form.reason"], exact=True).fill(reason)
        page.get_by_label(T["form.title"], exact=True).fill(f"Titre {XSS}")
        page.get_by_label(fr("form.question_n", n=1), exact=True).fill(f"gravure {XSS} personnalisée")
        page.get_by_label(T["form.answer"], exact=True).fill(f"Réponse {XSS} **grasse**")
        expect(page.locator("#preview strong")).to_have_text("grasse", timeout=WAIT_MS)
        expect(page.locator("#preview")).to_contain_text("Réponse")
        assert page.locator("#preview img").count() == 0
        page.get_by_label(T["try.question"], exact=True).fill("gravure personnalisée")
        page.get_by_role("button", name=T["try.submit"], exact=True).click()
        expect(page.locator("#try-draft tbody")).to_contain_text(f"Titre {XSS}", timeout=SLOW_MS)
        assert page.locator("#try-draft img, #editor img, #entries img").count() == 0
        page.wait_for_timeout(300)
        assert errors == [], errors


def test_two_editors_a_topic_prefill_and_the_language(live: tuple[Gateway, Rasa, RedisServer],
                                                      browser: Browser) -> None:
    """Another editor publishes meanwhile: the page shows their text and overwrites nothing, then
    reloads it. A missing-FAQ topic's link opens a prefilled new entry. English on demand."""
    gw, _, redis = live
    editor, other = unique_email("redac-a"), unique_email("redac-b")
    add_agent(redis.url, editor, PASSWORD, role="editor")
    add_agent(redis.url, other, PASSWORD, role="editor")
    http = httpx.Client(base_url=gw.url, timeout=120)
    login = http.post("/api/agent/login", json={"email": other, "password": PASSWORD})
    http.headers["Authorization"] = "Bearer " + login.json()["token"]
    listed = http.get("/api/editor/entries").json()["entries"]
    reason = next(e["reason"] for e in listed if e["lang"] == "fr")
    entry_id = f"studio-conflict-{uuid.uuid4().hex[:8]}-fr"
    draft = {"id": entry_id, "lang": "fr", "reason": reason, "title": "Emballage en tissu",
             "questions": ["Proposez-vous un emballage en tissu réutilisable\u202f?",
                           "emballage tissu cadeau"],
             "answer": "Oui, sur demande.", "tags": []}
    created = http.post("/api/editor/entries", json={"draft": draft, "confirm": True})
    assert created.status_code == 201, created.text

    with browser_in(browser, "fr-FR") as page:
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        studio_sign_in(page, gw, editor)
        page.locator("#entries button.entry", has_text=entry_id).click()
        expect(page.locator("#editor-title")).to_have_text(fr("editor.edit", id=entry_id), timeout=WAIT_MS)
        expect(page.get_by_label(T["form.answer"], exact=True)).to_have_value("Oui, sur demande.")

        theirs = {**draft, "answer": "Oui, en lin, pour 3 euros.",              # the other editor, meanwhile
                  "variants": {"courte": "En lin, 3 euros."}}
        version = http.get(f"/api/editor/entries/{entry_id}").json()["version"]
        res = http.put(f"/api/editor/entries/{entry_id}",
                       json={"draft": theirs, "version": version, "confirm": True})
        assert res.status_code == 200, res.text

        page.get_by_label(T["form.answer"], exact=True).fill("Oui, en coton.")
        page.get_by_role("button", name=T["form.publish"], exact=True).click()
        conflict = page.locator("#conflict")
        anyway = page.get_by_role("button", name=T["impact.publish_anyway"])
        expect(conflict.or_(anyway)).to_be_visible(timeout=SLOW_MS)
        if anyway.is_visible():
            anyway.click()
        expect(conflict).to_be_visible(timeout=SLOW_MS)
        expect(page.locator("#conflict-text")).to_contain_text("Oui, en lin, pour 3 euros.")
        expect(page.locator("#conflict-text")).to_contain_text(      # their A/B variant too
            fr("conflict.variant", name="courte") + "\nEn lin, 3 euros.")
        expect(page.locator("#publish-status")).to_have_text(T["publish.conflict"])
        kept = http.get(f"/api/editor/entries/{entry_id}").json()["draft"]["answer"]
        assert "en lin" in kept                                                   # not overwritten
        assert axe_violations(page) == []
        page.get_by_role("button", name=T["conflict.reload"]).click()
        expect(page.get_by_label(T["form.answer"], exact=True)).to_have_value("Oui, en lin, pour 3 euros.")
        expect(conflict).to_be_hidden()

        # the dashboard's link for a missing topic (dashboard.js `studioLink`)
        topic = [("lang", "fr"), ("reason", reason), ("q", f"gravure {XSS} sur bois"),
                 ("q", "graver un nom & prénom")]
        page.goto(f"{gw.url}/studio?" + urlencode(topic))
        expect(page.locator("#editor-title")).to_have_text(T["editor.new"], timeout=WAIT_MS)
        question = page.get_by_label(fr("form.question_n", n=1), exact=True)
        expect(question).to_have_value(f"gravure {XSS} sur bois")
        second = page.get_by_label(fr("form.question_n", n=2), exact=True)
        expect(second).to_have_value("graver un nom & prénom")
        expect(page.get_by_label(T["form.reason"], exact=True)).to_have_value(reason)
        expect(page.get_by_label(T["form.id"], exact=True)).to_have_value("")
        expect(page.locator("#status")).to_have_text(T["status.prefilled"])

        page.get_by_label(T["language.label"]).select_option("en")
        en = texts.section("en", "studio")
        expect(page.locator("h1")).to_have_text(en["title"])
        expect(page.locator("#editor-title")).to_have_text(en["editor.new"])
        assert page.evaluate("document.documentElement.lang") == "en"
        assert page.get_by_label("Question 1", exact=True).count() == 1
        assert axe_violations(page) == []
        assert errors == [], errors
