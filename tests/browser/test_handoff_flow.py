"""Issue 6's acceptance flow, two browser contexts on the real stack: a shopper on the demo
shop asks an FAQ question in the widget and gets the answer, asks for a human; an agent logs
into the console in another context, sees the conversation with its whole history, replies;
the shopper sees the reply in the widget, reloads the shop page and finds the history there."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import add_agent

from .conftest import XSS
from .helpers import (
    BOT_MS,
    PASSWORD,
    QUESTION,
    ZEBRA,
    bot_bubble,
    conversation_id,
    open_widget,
    say,
    sign_in,
    unique_email,
)

pytestmark = pytest.mark.timeout(300)


def test_shopper_in_the_widget_agent_in_the_console(live, browser: Browser) -> None:
    gw, _bot, redis = live
    email = unique_email("flow")
    add_agent(redis.url, email, PASSWORD)
    agent_context = browser.new_context(viewport={"width": 1280, "height": 800})
    shop_context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        dialogs: list[str] = []
        console = agent_context.new_page()
        console.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        sign_in(console, gw, email)                         # online: the bot may offer a human

        shop = shop_context.new_page()
        shop.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        open_widget(shop, gw.url)
        say(shop, QUESTION)
        expect(bot_bubble(shop, "lien de suivi")).to_be_visible(timeout=BOT_MS)
        say(shop, ZEBRA)                                    # a KB answer carrying hostile HTML
        expect(bot_bubble(shop, "striped")).to_be_visible(timeout=BOT_MS)
        say(shop, XSS)                                      # and a hostile shopper message
        say(shop, "je veux parler à un conseiller")
        expect(bot_bubble(shop, "conseiller")).to_be_visible(timeout=BOT_MS)
        cid = conversation_id(shop)

        card = console.locator(f'#queue [data-cid="{cid}"]')
        expect(card).to_be_visible(timeout=BOT_MS)          # live, no reload
        card.get_by_role("button", name=re.compile("^Take conversation")).click()
        transcript = console.locator("#transcript")
        expect(transcript.locator(".msg--shopper", has_text="où est mon colis")).to_be_visible()
        expect(transcript.locator(".msg--bot", has_text="lien de suivi")).to_have_count(1)
        # the KB's zebra entry carries the same markup as XSS, so the bot may suggest it again:
        # the console shows each stored bot message that mentions it, once
        history = httpx.get(f"{gw.url}/api/chat/conversations/{cid}/messages", timeout=30).json()["messages"]
        striped = sum(1 for m in history if m["role"] == "bot" and "striped" in " ".join(
            [m["text"], *(b["title"] for b in m.get("buttons") or ())]))
        assert striped >= 1
        expect(transcript.locator(".msg--bot", has_text="striped")).to_have_count(striped)
        expect(transcript.locator(".msg--shopper", has_text=XSS)).to_have_count(1)
        for page in (console, shop):                        # both render them as text / safe HTML
            assert page.locator(".msg img, #transcript img").count() == 0
            assert page.locator('a[href^="javascript:" i]').count() == 0
        assert shop.evaluate("""() => document.getElementById('shop-support-widget')
            .shadowRoot.querySelectorAll('img, a[href^="javascript:" i]').length""") == 0
        reply = console.get_by_label("Reply to the customer")
        reply.fill("Bonjour, je suis Marie, je regarde votre commande.")
        reply.press("Enter")

        agent_bubble = shop.locator(".msg", has_text="je regarde votre commande")
        expect(agent_bubble).to_be_visible(timeout=BOT_MS)  # over the shopper's WebSocket
        shop.reload()
        expect(shop.locator(".msg", has_text="je regarde votre commande")).to_have_count(1)
        expect(bot_bubble(shop, "lien de suivi")).to_have_count(1)
        assert conversation_id(shop) == cid
        assert not dialogs, f"a dialog fired: {dialogs}"
    finally:
        agent_context.close()
        shop_context.close()
