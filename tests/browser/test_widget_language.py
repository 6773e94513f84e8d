"""The widget follows the shopper's language (issue 19): on a page that embeds it in French, a
shopper who writes in English gets the English interface as soon as the bot answers in English,
with the conversation still there, and keeps it on the next page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from ops.redis_server import RedisServer
from tests.stack import Gateway, Rasa

from .conftest import axe_violations
from .helpers import BOT_MS, open_widget, say

pytestmark = pytest.mark.timeout(300)


def test_an_english_shopper_on_a_french_page_gets_english_buttons(live: tuple[Gateway, Rasa, RedisServer],
                                                                 page: Page) -> None:
    gw, _, _ = live
    open_widget(page, gw.url)                          # the demo page says data-lang="fr"
    expect(page.get_by_role("textbox", name="Votre message")).to_be_visible()
    say(page, "Hello, how do I return an item I bought?")
    box = page.get_by_role("textbox", name="Your message")
    expect(box).to_be_visible(timeout=BOT_MS)           # the bot answered in English: rebuilt in English
    expect(page.locator(".msg.me .bubble", has_text="how do I return an item")).to_have_count(1)
    expect(page.locator(".msg.bot .bubble").last).to_be_visible()
    assert page.evaluate("document.querySelector('#shop-support-widget').lang") == "en"
    assert axe_violations(page) == []
    box.fill("thanks")                                  # still a working composer
    box.press("Enter")
    expect(page.locator(".msg.me .bubble", has_text="thanks")).to_have_count(1, timeout=BOT_MS)
    page.reload()                                       # the next page: English from the start
    expect(page.locator("button.launcher")).to_have_attribute(
        "aria-label", re.compile("^(Open the support chat|Close the chat)"))
    expect(page.get_by_role("textbox", name="Your message")).to_be_visible()   # the panel, reopened
