"""The widget when the gateway refuses a new conversation (issue 14, per-address limits): it says
so in the shopper's language, with the wait the gateway gave, instead of spinning on "reconnecting"
or "sending failed". Real Chromium and the real widget.js; the gateway's answers (those of
tests/security/test_rate_limits.py: an error frame then close code 1013 on /ws/chat, a 429 with
`retry_after_s` on POST /api/chat/conversations) are played by Playwright routes, so no stack
has to start."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, WebSocketRoute, expect

from gateway.channels.web import TOO_MANY_CONVERSATIONS, TOO_MANY_TICKETS
from gateway.pages import widget_script
from tests.browser.conftest import browser, page, playwright  # noqa: F401  (fixtures)

pytestmark = pytest.mark.timeout(120)
GATEWAY = "http://gateway.test"
WIDGET = widget_script()[0].decode()   # as the gateway serves it: with its texts
REFUSED = {"error": "too_many_requests", "retry_after_s": 600, "message": TOO_MANY_CONVERSATIONS}
CLOSED = {"status": "closed", "typical_wait_s": None, "next_opening": "Monday at 09:00",
          "ticket_reply_hours": 8}
EN = "Too many new conversations from your connection. Please try again in 10 min."
FR = "Trop de nouvelles conversations depuis votre connexion. Réessayez dans 10 min."


def shop_page(tab: Page, lang: str) -> None:
    """A shop page with the widget, every gateway answer played by a route."""
    html = (f'<!doctype html><html lang="{lang}"><head><title>Shop</title></head><body><main><h1>Shop</h1>'
            f'</main><script src="{GATEWAY}/widget.js" data-lang="{lang}" async></script></body></html>')
    tab.route(f"{GATEWAY}/shop", lambda route: route.fulfill(
        content_type="text/html; charset=utf-8", body=html))
    tab.route(f"{GATEWAY}/widget.js", lambda route: route.fulfill(
        content_type="application/javascript; charset=utf-8", body=WIDGET))
    tab.route(re.compile(r"/api/chat/availability"), lambda route: route.fulfill(json=CLOSED))
    tab.route(re.compile(r"/api/chat/conversations$"), lambda route: route.fulfill(
        status=429, json=REFUSED, headers={"Retry-After": "600"}))

    def refuse(ws: WebSocketRoute) -> None:
        ws.send(json.dumps({"type": "error", "error": "too_many_requests", "status": 429, **REFUSED}))
        ws.close(code=1013)

    tab.route_web_socket(re.compile(r"/ws/chat"), refuse)
    tab.goto(f"{GATEWAY}/shop")


@pytest.mark.parametrize(("lang", "opener", "told"), [("en", "Open the support chat", EN),
                                                      ("fr", "Ouvrir le chat d'assistance", FR)])
def test_a_refused_new_conversation_is_explained(page: Page, lang: str, opener: str, told: str) -> None:  # noqa: F811
    shop_page(page, lang)
    page.get_by_role("button", name=opener).click()
    expect(page.get_by_role("status").filter(has_text=told)).to_be_visible()       # the socket's refusal
    form = page.get_by_role("form")                                                 # closed: the offline form
    form.get_by_role("textbox", name=re.compile("e-mail", re.IGNORECASE)).fill("anna@example.com")
    form.get_by_role("textbox", name="Message", exact=True).fill("My lamp arrived broken.")
    form.locator("button[type=submit]").click()                              # needs a conversation: 429
    expect(form.get_by_role("alert")).to_have_text(told)


def test_the_offline_form_explains_a_bad_order_number_then_the_ticket_limit(page: Page) -> None:  # noqa: F811
    shop_page(page, "en")
    page.route(re.compile(r"/api/chat/conversations$"), lambda route: route.fulfill(
        status=201, json={"conversation_id": "c-" + "a" * 24, "visitor_id": "v-1"}))
    answers = [(422, {"error": "invalid_request", "field": "order_number", "example": "#1001",
                      "message": "an order number looks like #1001"}),
               (429, {"error": "too_many_requests", "retry_after_s": 3600, "message": TOO_MANY_TICKETS})]
    page.route(re.compile(r"/tickets$"), lambda route: route.fulfill(
        status=answers[0][0], json=answers.pop(0)[1]))
    page.get_by_role("button", name="Open the support chat").click()
    form = page.get_by_role("form", name="Leave us a message")
    form.get_by_role("textbox", name="E-mail address").fill("anna@example.com")
    order = form.get_by_role("textbox", name="Order number (optional)")
    order.fill("my order from last week")
    form.get_by_role("textbox", name="Message", exact=True).fill("My lamp arrived broken.")
    form.get_by_role("button", name="Send the request").click()
    expect(order).to_have_attribute("aria-invalid", "true")
    expect(form).to_contain_text("An order number looks like #1001 (or leave it empty).")   # the shop's
    expect(order).to_be_focused()
    order.fill("")
    form.get_by_role("button", name="Send the request").click()
    expect(form.get_by_role("alert")).to_have_text(
        "You have already left us several messages: we will reply by e-mail. Try again in 1 h if needed.")
