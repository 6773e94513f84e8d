"""The help centre in a real browser against the real stack: live suggestions while typing,
keyboard navigation, the no-JavaScript fallback, accessibility and the strict CSP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from .conftest import axe_violations, screenshot

TRACKING = "/help/fr/order-tracking-fr"


@pytest.fixture
def csp_errors(page: Page) -> Iterator[list[str]]:
    """Console messages about blocked inline code: the pages must need none."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    yield errors


def test_typing_offers_the_entry_and_the_keyboard_follows_it(live, page: Page, csp_errors: list[str]) -> None:
    gw, _bot, _redis = live
    page.goto(f"{gw.url}/help/fr")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    box = page.get_by_role("searchbox", name="Rechercher dans l'aide")
    box.press_sequentially("colis ou est", delay=40)
    suggestions = page.get_by_role("list", name="Articles suggérés")
    offered = suggestions.get_by_role("link", name="Où est mon colis ?")
    expect(offered).to_be_visible()
    expect(offered).to_have_attribute("href", TRACKING)
    assert suggestions.get_by_role("link").count() <= 5
    expect(page.get_by_role("status")).to_contain_text("suggéré")
    screenshot(page, "help-suggestions-fr")
    # keyboard: down arrow into the list, Escape back to the box, then follow with Enter
    box.press("ArrowDown")
    expect(suggestions.get_by_role("link").first).to_be_focused()
    page.keyboard.press("Escape")
    expect(box).to_be_focused()
    expect(suggestions).to_be_hidden()
    box.press_sequentially(" ", delay=40)
    expect(offered).to_be_visible()
    box.press("ArrowDown")
    focused = page.evaluate("document.activeElement.getAttribute('href')")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{gw.url}{focused}")
    # following the offered link itself
    page.goto(f"{gw.url}/help/fr")
    page.get_by_role("searchbox").press_sequentially("colis ou est", delay=40)
    page.get_by_role("list", name="Articles suggérés").get_by_role("link", name="Où est mon colis ?").click()
    expect(page).to_have_url(f"{gw.url}{TRACKING}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Où est mon colis ?")
    assert not csp_errors, csp_errors


def test_search_and_feedback_work_without_javascript(live, browser: Browser) -> None:
    gw, _bot, redis = live
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{gw.url}/help/fr")
        page.get_by_role("searchbox", name="Rechercher dans l'aide").fill("ou est mon colis")
        page.get_by_role("button", name="Rechercher").click()
        expect(page).to_have_url(f"{gw.url}/help/fr/search?q=ou+est+mon+colis")
        assert page.locator(".suggest").count() == 0  # no enhancement ran
        result = page.get_by_role("main").get_by_role("link", name="Où est mon colis ?")
        expect(result.first).to_be_visible()
        screenshot(page, "help-search-nojs-fr")
        result.first.click()
        expect(page).to_have_url(f"{gw.url}{TRACKING}")
        # "Was this helpful?" is a plain form: it posts, redirects and thanks
        client = redis.client(decode_responses=True)
        before = client.xlen("support:help:feedback")
        page.get_by_role("button", name="Oui").click()
        expect(page.get_by_role("status")).to_have_text("Merci pour votre retour !")
        assert client.xlen("support:help:feedback") == before + 1
        [(_, fields)] = client.xrevrange("support:help:feedback", count=1)
        assert fields["entry"] == "order-tracking-fr" and fields["helpful"] == "1"
        client.close()
    finally:
        context.close()


@pytest.fixture
def axe_page(browser: Browser) -> Iterator[Page]:
    """A page where axe-core can be injected (Playwright injects it inline, which our strict
    CSP rightly blocks); the CSP itself is checked on normal pages by the other tests."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    page = context.new_page()
    yield page
    context.close()


@pytest.mark.parametrize("path", [TRACKING, "/help/en", "/help/fr/search?q=ou+est+mon+colis"])
def test_help_pages_have_no_serious_accessibility_violations(live, axe_page: Page, page: Page, path: str,
                                                             csp_errors: list[str]) -> None:
    gw, _bot, _redis = live
    page.goto(f"{gw.url}{path}")
    page.wait_for_load_state("load")
    expect(page.locator("link[rel=canonical]")).to_have_count(1)
    assert not csp_errors, csp_errors  # the page itself needs no inline code
    axe_page.goto(f"{gw.url}{path}")
    assert axe_violations(axe_page) == []
    if path == TRACKING:
        screenshot(axe_page, "help-entry-fr", full_page=True)
        # with the suggestions open too
        axe_page.get_by_role("searchbox").press_sequentially("remboursement", delay=30)
        expect(axe_page.locator(".suggest")).to_be_visible()
        assert axe_violations(axe_page) == []


def test_hostile_entry_is_shown_as_text(live, page: Page) -> None:
    gw, _bot, _redis = live
    page.goto(f"{gw.url}/help/en/hostile-test-en")
    answer = page.locator(".entry__answer")
    expect(answer).to_contain_text("<img src=x onerror=alert(1)>")
    assert answer.locator("img").count() == 0
    hrefs = answer.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert hrefs == ["https://shop.example/zebra"]
    # the page fixture fails the test if any dialog (alert) fired
