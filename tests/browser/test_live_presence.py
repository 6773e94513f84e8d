"""Live presence (issue 19) in a real browser on the real stack: typing indicators both ways between
the widget and the console, the keyboard shortcuts and their help overlay (axe-checked), the tab's
badge and desktop notifications. The browser's Notification API is outside our code: a spy put in
by an init script records what the console asks of it, and the page's visibility is driven the
same way (a headless page is never really in the background)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import add_agent
from tests.stack import REPO

from .conftest import axe_violations, poll, screenshot
from .helpers import (
    BOT_MS,
    PASSWORD,
    WAIT_MS,
    Live,
    WebShopper,
    agent_token,
    bot_bubble,
    conversation_id,
    open_widget,
    say,
    script_errors,
    sign_in,
    unique_email,
)

pytestmark = pytest.mark.timeout(300)
HANDOFF = "je veux parler à un conseiller"

# Records every notification the console makes; the permission stays "default" until the page
# asks (sessionStorage: the answer survives a reload, as the browser's own would); and the
# page's visibility follows window.__hidden.
SPIES = """
(() => {
  const Real = window.Notification;
  window.__notes = []; window.__asked = 0; window.__hidden = false;
  const decided = () => sessionStorage.getItem('__notify_decided') === '1';
  function Spy(title, options) {
    options = options || {};
    window.__notes.push({title: String(title), body: String(options.body || ''),
                         tag: String(options.tag || '')});
    this.close = () => {};
  }
  Object.defineProperty(Spy, 'permission', {get: () => decided() ? Real.permission : 'default'});
  Spy.requestPermission = () => {
    window.__asked += 1;
    sessionStorage.setItem('__notify_decided', '1');
    return Real.requestPermission();
  };
  window.Notification = Spy;
  Object.defineProperty(Document.prototype, 'visibilityState',
                        {configurable: true, get: () => window.__hidden ? 'hidden' : 'visible'});
  Object.defineProperty(Document.prototype, 'hidden', {configurable: true, get: () => window.__hidden});
})();
"""


def add_named_agent(redis_url: str, email: str, name: str) -> None:
    """Through the real CLI, with the display name shoppers see."""
    command = [sys.executable, "-m", "handoff", "agents", "add", email, "--role", "agent", "--name", name,
               "--password-stdin"]
    res = subprocess.run(command, input=PASSWORD + "\n", text=True, capture_output=True, cwd=REPO,
                         env={**os.environ, "REDIS_URL": redis_url}, timeout=60)
    assert res.returncode == 0, res.stderr


def set_hidden(page: Page, hidden: bool) -> None:
    page.evaluate("(h) => { window.__hidden = h; document.dispatchEvent(new Event('visibilitychange')); }",
                  hidden)


def title_count(page: Page) -> int:
    found = re.match(r"^\((\d+)\) ", page.title())
    return int(found.group(1)) if found else 0


def test_typing_shows_in_the_console_and_in_the_widget(live: Live, browser: Browser) -> None:
    gw, _bot, redis = live
    email = unique_email("marie")
    add_named_agent(redis.url, email, "Marie")
    agent_context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    shop_context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        console = agent_context.new_page()
        console_errors = script_errors(console)
        sign_in(console, gw, email)
        shop = shop_context.new_page()
        shop_errors = script_errors(shop)
        open_widget(shop, gw.url)
        say(shop, HANDOFF)
        expect(bot_bubble(shop, "conseiller")).to_be_visible(timeout=BOT_MS)
        cid = conversation_id(shop)
        card = console.locator(f'#queue [data-cid="{cid}"]')
        expect(card).to_be_visible(timeout=BOT_MS)
        card.get_by_role("button", name=re.compile("^Take conversation")).click()
        expect(shop.locator(".msg.sys", has_text="Marie")).to_be_visible(timeout=WAIT_MS)   # Marie joined

        # the shopper types: the agent sees it under the transcript, until the message arrives
        note = console.locator("#typing-note")
        expect(note).to_be_hidden()
        box = shop.get_by_role("textbox", name="Votre message")
        box.press_sequentially("Bonjour, ma commande")
        expect(note).to_have_text("The customer is typing…", timeout=WAIT_MS)
        expect(note).to_be_visible()
        box.press("Enter")
        expect(console.locator("#transcript .msg--shopper", has_text="Bonjour, ma commande")).to_be_visible(
            timeout=WAIT_MS)
        expect(note).to_be_hidden()

        # the agent types: the shopper sees her display name (never her e-mail), until her reply
        indicator = shop.locator(".agent-typing")
        expect(indicator).to_be_hidden()
        reply = console.get_by_label("Reply to the customer")
        reply.press_sequentially("Je regarde votre")
        expect(indicator).to_have_text("Marie écrit…", timeout=WAIT_MS)
        expect(indicator).to_be_visible()
        assert email not in shop.locator("#shop-support-widget").inner_text()
        reply.press_sequentially(" commande.")
        reply.press("Enter")
        answer = shop.locator(".msg.agent", has_text="Je regarde votre commande.")
        expect(answer).to_be_visible(timeout=WAIT_MS)
        expect(indicator).to_be_hidden()

        # nothing of it was stored: the transcript holds the messages only
        history = httpx.get(f"{gw.url}/api/chat/conversations/{cid}/messages", timeout=30).json()["messages"]
        assert not [m for m in history if "typing" in str(m).lower()]
        shop_errors = [e for e in shop_errors if "favicon.ico" not in e]   # the demo shop's own page
        assert console_errors == [] and shop_errors == [], (console_errors, shop_errors)
    finally:
        agent_context.close()
        shop_context.close()


def test_shortcuts_help_overlay_and_the_shortcuts_themselves(live: Live, page: Page) -> None:
    gw, _bot, redis = live
    email = unique_email("kbd")
    add_agent(redis.url, email, PASSWORD)
    errors = script_errors(page)
    sign_in(page, gw, email)
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_hidden()

    page.locator("#main").focus()
    page.keyboard.press("?")                                   # outside a field: the help opens
    expect(dialog).to_be_visible()
    rows = dialog.locator("tbody tr")
    expect(rows).to_have_count(10)
    for keys, action in (("?", "Show this list"), ("Alt+N", "Take the oldest waiting conversation"),
                         ("Alt+↓ or J", "Next conversation"), ("Alt+R", "Go to the reply box"),
                         ("Shift+Enter", "New line"), ("Alt+Shift+C", "Close the conversation")):
        expect(dialog.locator("tr", has=page.locator("kbd", has_text=keys))).to_contain_text(action)
    inside = "() => document.getElementById('shortcuts').contains(document.activeElement)"
    assert page.evaluate(inside)
    for key in ("Tab", "Shift+Tab", "Tab"):                    # the focus stays in the dialog
        page.keyboard.press(key)
        assert page.evaluate(inside), key
    assert axe_violations(page) == []
    screenshot(page, "console-shortcuts")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert page.evaluate("document.activeElement.id") == "main"   # back where it was

    opener = page.get_by_role("button", name="Shortcuts")      # the same list by mouse
    opener.click()
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(opener).to_be_focused()

    # Alt+N takes the oldest waiting conversation and puts the focus in the reply box
    shopper = WebShopper(gw.url)
    shopper.say(HANDOFF)
    expect(page.locator(f'#queue [data-cid="{shopper.cid}"]')).to_be_visible(timeout=WAIT_MS)
    page.locator("#main").focus()
    page.keyboard.press("Alt+n")
    expect(page.locator("#conv")).to_be_visible()
    reply = page.get_by_label("Reply to the customer")
    expect(reply).to_be_focused()
    expect(page.locator("#mine .card")).to_have_count(1)
    held = page.locator("#mine .card").get_attribute("data-cid")

    reply.press("?")                                           # in a field, "?" is just typed
    expect(dialog).to_be_hidden()
    expect(reply).to_have_value("?")
    reply.fill("")

    page.locator("#main").focus()                              # K / J move through the lists
    cids = page.eval_on_selector_all("#queue .card, #mine .card", "cards => cards.map(c => c.dataset.cid)")
    at = cids.index(held)
    page.keyboard.press("k")
    expect(page.locator(f'.card.is-current[data-cid="{cids[max(0, at - 1)]}"]')).to_have_count(1)
    page.keyboard.press("Alt+ArrowDown")
    expect(page.locator(f'#mine .card.is-current[data-cid="{held}"]')).to_have_count(1)
    expect(page.locator("#reply-form")).to_be_visible()       # hers again: she may answer
    page.keyboard.press("Alt+r")
    expect(reply).to_be_focused()
    assert errors == [], errors


def test_tab_badge_and_desktop_notifications_while_the_tab_is_hidden(live: Live, browser: Browser) -> None:
    gw, _bot, redis = live
    email = unique_email("notif")
    add_agent(redis.url, email, PASSWORD)
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US",
                                  permissions=["notifications"])
    context.add_init_script(SPIES)
    try:
        page = context.new_page()
        errors = script_errors(page)
        sign_in(page, gw, email)
        toggle = page.get_by_role("button", name="Notifications", exact=True)
        expect(toggle).to_have_attribute("aria-pressed", "false")
        toggle.click()                                         # a user gesture: the browser asks, once
        expect(toggle).to_have_attribute("aria-pressed", "true")
        assert page.evaluate("window.__asked") == 1
        assert page.evaluate("localStorage.getItem('console.notify')") == "on"
        page.reload()                                          # remembered, never asked again
        expect(page.locator("#app")).to_be_visible()
        expect(toggle).to_have_attribute("aria-pressed", "true")
        assert page.evaluate("window.__asked") == 0

        token = agent_token(page)
        auth = {"Authorization": f"Bearer {token}"}
        waiting = len(httpx.get(f"{gw.url}/api/agent/queue", headers=auth, timeout=30).json()["queue"])
        poll(lambda: title_count(page) == waiting, "the badge of the waiting conversations", page=page)

        set_hidden(page, True)                                 # the agent works in another tab
        shopper = WebShopper(gw.url)
        shopper.say(HANDOFF)
        expect(page.locator(f'#queue [data-cid="{shopper.cid}"]')).to_be_attached(timeout=WAIT_MS)
        notes = poll(lambda: page.evaluate("window.__notes"), "a notification", page=page)
        assert notes[-1]["title"] == "New conversation waiting" and notes[-1]["tag"] == shopper.cid, notes
        assert "FR" in notes[-1]["body"]
        poll(lambda: title_count(page) == waiting + 1, "one more in the badge", page=page)

        # taken (from another tab of hers), then the customer writes: notified, counted until seen
        assert httpx.post(f"{gw.url}/api/agent/conversations/{shopper.cid}/claim", headers=auth,
                          timeout=30).status_code == 200
        card = page.locator(f'#mine [data-cid="{shopper.cid}"]')
        expect(card).to_be_attached(timeout=WAIT_MS)
        shopper.say("Vous êtes là ?")
        poll(lambda: len(page.evaluate("window.__notes")) == 2, "a second notification", page=page)
        note = page.evaluate("window.__notes")[-1]
        assert note["title"] == "New customer message" and note["tag"] == shopper.cid, note
        assert "Vous êtes là" not in note["body"]              # never what the customer wrote
        poll(lambda: title_count(page) == waiting + 1, "the unseen message in the badge", page=page)

        set_hidden(page, False)
        card.get_by_role("button", name=re.compile("^Conversation")).click()   # seen: the badge drops it
        expect(page.locator("#transcript .msg--shopper", has_text="Vous êtes là")).to_be_visible()
        poll(lambda: title_count(page) == waiting, "the badge without the seen conversation", page=page)
        shopper.say("Toujours là")                            # visible tab: no notification
        later = page.locator("#transcript .msg--shopper", has_text="Toujours là")
        expect(later).to_be_visible(timeout=WAIT_MS)
        assert len(page.evaluate("window.__notes")) == 2
        assert errors == [], errors
    finally:
        context.close()
