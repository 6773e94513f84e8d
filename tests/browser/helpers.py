"""Shared by the browser tests: agents signing in to the console, shoppers on the widget."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from kit import texts
from ops.redis_server import RedisServer
from tests.stack import Gateway, Rasa

from .conftest import poll

PASSWORD = "correct horse battery"
WAIT_MS = 30_000


def unique_email(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}@shop.example"


class WebShopper:
    """The widget's HTTP fallback: start a conversation, post messages, read the history."""

    def __init__(self, base_url: str, lang: str = "fr"):
        self.http = httpx.Client(base_url=base_url, timeout=60)
        res = self.http.post("/api/chat/conversations", json={"lang": lang})
        assert res.status_code == 201, res.text
        self.cid: str = res.json()["conversation_id"]
        self._n = 0

    def say(self, text: str) -> None:
        self._n += 1
        res = self.http.post(f"/api/chat/conversations/{self.cid}/messages",
                             json={"text": text, "message_id": f"m{self._n}"})
        assert res.status_code == 202, res.text

    def messages(self) -> list[dict[str, Any]]:
        return self.http.get(f"/api/chat/conversations/{self.cid}/messages").json()["messages"]

    def wait_for(self, role: str, contains: str, timeout: float = 60) -> dict[str, Any]:
        return poll(lambda: next((m for m in self.messages() if m["role"] == role
                                  and contains.lower() in m["text"].lower()), None),
                    f"a {role} message with {contains!r}", timeout=timeout)


def sign_in(page: Page, gw: Gateway, email: str, lang: str = "en") -> None:
    """Sign in on the console's login form as shown in `lang` (the browser's language); once
    signed in, the account's own language may take over."""
    t = texts.section(lang, "console")
    live = "|".join(re.escape(texts.text(code, "console.connection.live")) for code in texts.LANGS)
    page.goto(f"{gw.url}/console")
    page.get_by_label(t["login.email"], exact=True).fill(email)
    page.get_by_label(t["login.password"], exact=True).fill(PASSWORD)
    page.get_by_role("button", name=t["login.submit"]).click()
    expect(page.locator("#app")).to_be_visible()
    # /ws/agent authenticated
    expect(page.locator("#connection")).to_have_text(re.compile(f"^({live})$"), timeout=WAIT_MS)


def agent_token(page: Page) -> str:
    return page.evaluate("sessionStorage.getItem('console.token')")


BOT_MS = 30_000  # a bot turn: Rasa + FAQ retrieval, generous on a loaded machine
QUESTION = "Bonjour, où est mon colis ?"
ZEBRA = "what does the zebra pattern cushion look like"


def conversation_id(page: Page) -> str:
    cid = page.evaluate("() => JSON.parse(localStorage.getItem(`shop-support:${location.origin}:cid`))")
    assert cid and cid.startswith("c-"), cid
    return cid


def open_widget(page: Page, url: str) -> None:
    page.goto(f"{url}/demo")
    page.get_by_role("button", name=re.compile("^Ouvrir le chat")).click()
    expect(page.get_by_role("dialog", name="Atelier Lumen")).to_be_visible()
    page.wait_for_function("() => performance.getEntriesByName('shop-support-connected').length")


def say(page: Page, text: str) -> None:
    # the widget follows the conversation's language: English once the bot has answered in English
    box = page.get_by_role("textbox", name=re.compile("^(Votre message|Your message)$"))
    box.fill(text)
    box.press("Enter")


def bot_bubble(page: Page, text: str):  # noqa: ANN201
    return page.locator(".msg.bot .bubble", has_text=text)


def script_errors(page: Page) -> list[str]:
    errors: list[str] = []                        # script errors and CSP refusals
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(f"{msg.text} {msg.location.get('url', '')}")
            if msg.type == "error" and "401" not in msg.text else None)
    return errors


Live = tuple[Gateway, Rasa, RedisServer]
