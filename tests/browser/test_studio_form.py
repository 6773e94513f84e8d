"""The FAQ studio's form in a real browser (issue 22, second part): problems said in the editor's
language, A/B variants edited with their preview and published into the file (the rest of it
byte for byte), unpublished changes never dropped without asking, and the main path done with
the keyboard alone, each control showing where the focus is, axe-clean at every step. Each test
adds entries of its own to the shared KB and deletes none (see test_studio.py)."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, expect

from editor.entry_file import read_draft
from ops.redis_server import RedisServer
from tests.e2e.conftest import add_agent
from tests.stack import Gateway, Rasa

from .conftest import XSS, axe_violations, browser_in
from .helpers import PASSWORD, WAIT_MS, unique_email
from .test_studio import SLOW_MS, T, fr, publish, studio_sign_in

pytestmark = pytest.mark.timeout(420)
ANSWER = "Oui, le **vernis mat** est proposé sur toutes les lampes."
SHORT = f"Oui, en **mat**. {XSS}"


def editor_client(gw: Gateway, redis: RedisServer) -> tuple[str, httpx.Client]:
    email = unique_email("redac")
    add_agent(redis.url, email, PASSWORD, role="editor")
    http = httpx.Client(base_url=gw.url, timeout=120)
    token = http.post("/api/agent/login", json={"email": email, "password": PASSWORD}).json()["token"]
    http.headers["Authorization"] = "Bearer " + token
    return email, http


def create(http: httpx.Client, entry_id: str, lang: str, reason: str, questions: list[str],
           answer: str) -> None:
    draft = {"id": entry_id, "lang": lang, "reason": reason, "title": questions[0], "questions": questions,
             "answer": answer, "tags": ["studio-test"]}
    res = http.post("/api/editor/entries", json={"draft": draft, "confirm": True})
    assert res.status_code == 201, res.text


def issue(kind: str, message: str) -> str:
    return fr(f"issues.{kind}", message=message)


def test_checks_in_french_variants_and_unpublished_changes(live: tuple[Gateway, Rasa, RedisServer],
                                                           browser: Browser, browser_kb: Path) -> None:
    gw, _, redis = live
    email, http = editor_client(gw, redis)
    reason = next(e["reason"] for e in http.get("/api/editor/entries").json()["entries"] if e["lang"] == "fr")
    mine, other = (f"studio-form-{uuid.uuid4().hex[:8]}-fr" for _ in range(2))
    create(http, mine, "fr", reason, ["Proposez-vous un vernis mat pour les lampes\u202f?"], ANSWER)
    create(http, other, "fr", reason, ["Les abat-jour sont-ils lavables\u202f?"], "Oui, à la main.")
    path = browser_kb / http.get(f"/api/editor/entries/{mine}").json()["path"]
    original = path.read_text(encoding="utf-8")

    with browser_in(browser, "fr-FR") as page:
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        studio_sign_in(page, gw, email)
        entry_button = page.locator("#entries button.entry", has_text=mine)
        entry_button.click()
        expect(page.locator("#editor-title")).to_have_text(fr("editor.edit", id=mine), timeout=WAIT_MS)
        answer = page.get_by_label(T["form.answer"], exact=True)

        # 1. a problem in the editor's language, next to its field
        answer.fill("")
        empty = page.locator("#issues-answer .issue--error")
        expect(empty).to_have_text(issue("error", T["check.empty_answer"]), timeout=WAIT_MS)
        expect(answer).to_have_attribute("aria-invalid", "true")
        answer.fill(ANSWER)
        expect(empty).to_have_count(0, timeout=WAIT_MS)
        # a code this page has no text for: the gateway's English message, as text
        fake = {"ok": True, "issues": [{"field": "answer", "severity": "warning", "code": "zz_new_check",
                                        "params": {}, "message": f"Some English {XSS}"}]}

        def checked(route: Route) -> None:
            route.fulfill(status=200, content_type="application/json", body=json.dumps(fake))

        page.route("**/api/editor/check", checked)
        answer.fill(ANSWER + " ")
        expect(page.locator("#issues-answer .issue--warning")).to_have_text(
            issue("warning", f"Some English {XSS}"), timeout=WAIT_MS)
        assert page.locator("#issues-answer img").count() == 0
        page.unroute("**/api/editor/check")
        answer.fill(ANSWER)

        # 2. a question another entry already has: flagged next to the questions, before saving
        page.get_by_role("button", name=T["form.add_question"]).click()
        second = page.get_by_label(fr("form.question_n", n=2), exact=True)
        second.fill("Les abat-jour sont-ils lavables\u202f?")
        shared = page.locator("#issues-questions .issue--warning")
        expect(shared).to_contain_text("La question «\u00a0Les abat-jour sont-ils lavables", timeout=WAIT_MS)
        expect(shared).to_contain_text(other)
        page.get_by_role("button", name=fr("form.remove_question_n", n=2)).click()
        expect(shared).to_have_count(0, timeout=WAIT_MS)

        # 3. unpublished changes: asked before another entry replaces them
        dialog = page.get_by_role("dialog", name=T["discard.title"])
        leaving = ("() => { const e = new Event('beforeunload', {cancelable: true});"
                   " window.dispatchEvent(e); return e.defaultPrevented; }")
        assert page.evaluate(leaving) is False                       # nothing changed: leave freely
        page.locator("#entries button.entry", has_text=other).click()  # no change: no question
        expect(page.locator("#editor-title")).to_have_text(fr("editor.edit", id=other), timeout=WAIT_MS)
        expect(dialog).to_be_hidden()
        entry_button.click()
        expect(answer).to_have_value(ANSWER, timeout=WAIT_MS)
        answer.fill(ANSWER + " Modifié.")
        assert page.evaluate(leaving) is True                        # the browser asks before leaving
        page.locator("#entries button.entry", has_text=other).click()
        expect(dialog).to_be_visible()
        expect(dialog).to_contain_text(T["discard.text"])
        expect(page.get_by_role("button", name=T["discard.keep"])).to_be_focused()
        assert axe_violations(page) == []
        page.get_by_role("button", name=T["discard.keep"]).click()
        expect(dialog).to_be_hidden()
        expect(answer).to_have_value(ANSWER + " Modifié.")
        expect(page.locator("#editor-title")).to_have_text(fr("editor.edit", id=mine))
        page.get_by_role("button", name=T["list.new"]).click()        # a new entry asks too; Escape keeps
        expect(dialog).to_be_visible()
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
        expect(answer).to_have_value(ANSWER + " Modifié.")
        page.locator("#entries button.entry", has_text=other).click()
        page.get_by_role("button", name=T["discard.confirm"]).click()
        expect(page.locator("#editor-title")).to_have_text(fr("editor.edit", id=other), timeout=WAIT_MS)
        entry_button.click()                                          # the change is gone
        expect(answer).to_have_value(ANSWER, timeout=WAIT_MS)
        assert path.read_text(encoding="utf-8") == original

        # 2. a variant: its preview sanitised, published into the file
        page.get_by_role("button", name=T["form.add_variant"]).click()
        name = page.get_by_label(fr("form.variant_name_n", n=1), exact=True)
        expect(name).to_be_focused()
        page.keyboard.type("mat")
        page.get_by_label(fr("form.variant_text_n", n=1), exact=True).fill(SHORT)
        shown = page.get_by_role("region", name=fr("form.variant_preview_n", n=1))
        expect(shown.locator("strong")).to_have_text("mat", timeout=WAIT_MS)
        expect(shown).to_contain_text("Oui, en")
        assert page.locator("#variants img, #variants script").count() == 0
        expect(page.locator("#check-status")).to_have_text(T["check.ok"], timeout=WAIT_MS)
        assert axe_violations(page) == []
        publish(page)
        written = path.read_text(encoding="utf-8")
        assert read_draft(written).variants == {"mat": SHORT}
        lines = written.splitlines(keepends=True)
        start = lines.index("variants:\n")
        assert lines[start + 1].startswith("  mat: ") and not lines[start + 2].startswith(" ")
        assert "".join(lines[:start] + lines[start + 2:]) == original     # the rest byte for byte
        assert page.evaluate(leaving) is False                        # published: nothing to lose

        # a bad name: the error next to the variants, in French
        page.get_by_role("button", name=T["form.add_variant"]).click()
        page.keyboard.type("ma variante")
        page.get_by_label(fr("form.variant_text_n", n=2), exact=True).fill("Autre texte.")
        bad = page.locator("#issues-variants .issue--error")
        expect(bad).to_have_text(issue("error", fr("check.bad_variant_names", names="ma variante")),
                                 timeout=WAIT_MS)
        expect(page.get_by_label(fr("form.variant_name_n", n=2), exact=True)).to_have_attribute(
            "aria-invalid", "true")
        page.get_by_label(fr("form.variant_name_n", n=2), exact=True).fill("default")
        expect(bad).to_have_text(issue("error", fr("check.bad_variant_names", names="default")),
                                 timeout=WAIT_MS)
        # two rows with one name would collapse into one variant: the second is named apart, refused
        page.get_by_label(fr("form.variant_name_n", n=2), exact=True).fill("mat")
        expect(bad).to_have_text(issue("error", fr("check.bad_variant_names", names="mat (2)")),
                                 timeout=WAIT_MS)
        assert axe_violations(page) == []
        page.get_by_role("button", name=fr("form.remove_variant_n", n=2)).click()
        expect(bad).to_have_count(0, timeout=WAIT_MS)
        assert page.evaluate(leaving) is False
        assert errors == [], errors


FOCUSED = """() => {
  const el = document.activeElement, style = getComputedStyle(el);
  return {id: el.id, tag: el.tagName, cls: el.className, text: (el.textContent || '').trim().slice(0, 60),
          visible: el.matches(':focus-visible') && style.outlineStyle !== 'none'
                   && parseFloat(style.outlineWidth) >= 2};
}"""


def tab_to(page: Page, selector: str, *, back: bool = False, most: int = 80) -> None:
    """Tab (or Shift+Tab) until `selector` has the focus; it must show where the focus is."""
    seen = []
    for _ in range(most):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            focused = page.evaluate(FOCUSED)
            assert focused["visible"], f"no visible focus indicator on {focused}"
            return
        focused = page.evaluate(FOCUSED)
        if focused["tag"] not in ("BODY", "HTML"):
            assert focused["visible"], f"no visible focus indicator on {focused}"
        seen.append(focused["id"] or focused["text"])
    raise AssertionError(f"{selector} not reached with the keyboard; went through {seen}")


def test_the_main_path_with_the_keyboard_only(live: tuple[Gateway, Rasa, RedisServer],
                                              browser: Browser) -> None:
    gw, _, redis = live
    email, http = editor_client(gw, redis)
    listed = http.get("/api/editor/entries").json()["entries"]
    first = min((e["lang"], e["reason"]) for e in listed)          # ours comes first in the list
    entry_id = f"aaa-keyboard-{uuid.uuid4().hex[:8]}-{first[0]}"
    create(http, entry_id, first[0], first[1], ["keyboard only cushion cover question"],
           "Cushion covers are washable at 30 degrees.")
    with browser_in(browser, "fr-FR") as page:
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{gw.url}/studio")
        expect(page.locator("#login-title")).to_have_text(T["login.title"])
        tab_to(page, "#email")
        page.keyboard.type(email)
        tab_to(page, "#password")
        page.keyboard.type(PASSWORD)
        tab_to(page, "#login-form button[type=submit]")
        page.keyboard.press("Enter")
        expect(page.locator(f'#entries button.entry[data-id="{entry_id}"]')).to_be_visible(timeout=WAIT_MS)
        assert axe_violations(page) == []

        tab_to(page, f'#entries button.entry[data-id="{entry_id}"]')
        page.keyboard.press("Enter")
        expect(page.locator("#editor-title")).to_have_text(fr("editor.edit", id=entry_id), timeout=WAIT_MS)
        expect(page.locator("#editor-title")).to_be_focused()
        expect(page.locator("#check-status")).to_have_text(re.compile("."), timeout=WAIT_MS)
        assert axe_violations(page) == []

        tab_to(page, "#e-answer")
        page.keyboard.press("Control+End")
        page.keyboard.type(" Dry them flat.")
        expect(page.locator("#preview")).to_contain_text("Dry them flat.", timeout=WAIT_MS)

        tab_to(page, "#try-question")
        page.keyboard.type("keyboard only cushion cover question")
        page.keyboard.press("Enter")
        expect(page.locator("#try-draft tr.mine")).to_have_count(1, timeout=SLOW_MS)
        assert axe_violations(page) == []

        tab_to(page, "#impact-button", back=True)
        page.keyboard.press("Space")
        expect(page.locator("#impact")).to_be_visible(timeout=SLOW_MS)
        expect(page.locator("#impact-title")).to_be_focused()
        assert axe_violations(page) == []

        tab_to(page, "#publish", back=True)
        page.keyboard.press("Enter")
        done = page.locator("#publish-status", has_text=fr("publish.done", id=entry_id))
        anyway = page.get_by_role("button", name=T["impact.publish_anyway"])
        expect(done.or_(anyway)).to_be_visible(timeout=SLOW_MS)
        if anyway.is_visible():
            tab_to(page, "#publish-anyway")
            page.keyboard.press("Enter")
            expect(done).to_be_visible(timeout=SLOW_MS)
        assert "Dry them flat." in http.get(f"/api/editor/entries/{entry_id}").json()["draft"]["answer"]
        assert axe_violations(page) == []
        assert errors == [], errors
