"""Issue 19's attachments in the browser, on the real stack: a shopper who has asked for a human
attaches a photo of the damaged parcel with the widget's attach button (keyboard only); they see
it in the widget, and the agent who took the conversation sees it live in the console, as an
image loaded from a blob: URL of an authenticated fetch (the console's CSP allows nothing else).
A file too large and a text file named like a photo are refused with a visible message."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from playwright.sync_api import Browser, FileChooser, Page, expect

from kit import texts
from tests.e2e.conftest import add_agent

from .conftest import poll, screenshot
from .helpers import (
    BOT_MS,
    PASSWORD,
    bot_bubble,
    conversation_id,
    open_widget,
    say,
    script_errors,
    sign_in,
    unique_email,
)

pytestmark = pytest.mark.timeout(300)
W = texts.section("fr", "widget")


def photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (180, 90, 30)).save(out, "JPEG")
    return out.getvalue()


def attach(shop: Page, name: str, mime: str, content: bytes) -> None:
    """The attach button, reached and pressed from the keyboard, then the file chosen. The
    chooser is caught by a listener set up beforehand (expect_file_chooser can miss a chooser
    opened by a key press)."""
    choosers: list[FileChooser] = []

    def caught(chooser: FileChooser) -> None:
        choosers.append(chooser)

    shop.on("filechooser", caught)
    try:
        button = shop.get_by_role("button", name=W["attach"])
        button.focus()
        shop.keyboard.press("Enter")
        poll(lambda: choosers, "the file chooser", timeout=30, page=shop)
    finally:
        shop.remove_listener("filechooser", caught)
    choosers[0].set_files({"name": name, "mimeType": mime, "buffer": content})


def test_a_photo_sent_in_the_widget_reaches_the_agent_and_bad_files_are_refused(live,  # noqa: ANN001
                                                                                 browser: Browser) -> None:
    gw, _bot, redis = live
    email = unique_email("files")
    add_agent(redis.url, email, PASSWORD)
    agent_context = browser.new_context(viewport={"width": 1280, "height": 800})
    shop_context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        console = agent_context.new_page()
        errors = script_errors(console)
        sign_in(console, gw, email)
        shop = shop_context.new_page()
        open_widget(shop, gw.url)
        say(shop, "je veux parler à un conseiller")
        expect(bot_bubble(shop, "conseiller")).to_be_visible(timeout=BOT_MS)
        cid = conversation_id(shop)
        card = console.locator(f'#queue [data-cid="{cid}"]')
        expect(card).to_be_visible(timeout=BOT_MS)
        card.get_by_role("button", name=re.compile("^Take conversation")).click()
        transcript = console.locator("#transcript")
        expect(transcript.locator(".msg--shopper", has_text="conseiller")).to_be_visible()

        attach(shop, "colis abîmé.jpg", "image/jpeg", photo())
        sent = shop.locator(".msg.me .file.pic img")
        expect(sent).to_have_attribute("alt", W["imageAlt"].replace("{name}", "colis abîmé.jpg"),
                                       timeout=BOT_MS)
        shop.wait_for_function("""() => [...document.getElementById('shop-support-widget').shadowRoot
            .querySelectorAll('.msg.me .file img')].some(i => i.complete && i.naturalWidth === 320)""")
        expect(shop.locator(".msg.me.failed")).to_have_count(0)

        thumb = transcript.locator(".msg--shopper img.file__thumb")        # live, without a reload
        expect(thumb).to_have_count(1, timeout=BOT_MS)
        expect(thumb).to_have_attribute("src", re.compile("^blob:"), timeout=BOT_MS)
        console.wait_for_function("() => { const i = document.querySelector('#transcript img.file__thumb');"
                                  " return i && i.complete && i.naturalWidth === 320; }")
        expect(thumb).to_have_attribute("alt", re.compile("colis abîmé.jpg"))
        screenshot(console, "console-attachment")
        screenshot(shop, "widget-attachment")

        attach(shop, "enorme.jpg", "image/jpeg", b"\xff\xd8\xff" + b"0" * (6 * 1024 * 1024))
        expect(shop.locator(".msg.me.failed", has_text=W["fileTooBig"])).to_be_visible(timeout=BOT_MS)
        attach(shop, "photo.jpg", "image/jpeg", b"ceci n'est pas une photo, juste du texte")
        expect(shop.locator(".msg.me.failed", has_text=W["fileType"])).to_be_visible(timeout=BOT_MS)
        expect(transcript.locator(".msg--shopper .file")).to_have_count(1)   # nothing else reached the agent

        shop.reload()                                                      # the photo is part of the history
        expect(shop.locator(".msg.me .file.pic img")).to_have_count(1, timeout=BOT_MS)
        assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e], errors
    finally:
        agent_context.close()
        shop_context.close()
