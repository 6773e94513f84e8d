"""The manager's dashboard in a real browser, on a synthetic month loaded with
`python -m analytics simulate` into the live stack's Redis: manager login, KPI tiles, the daily
chart, the value/irritant matrix, unanswered topics, A/B tests, survey comments, CSV downloads,
axe-core, a screenshot; a plain agent is turned away."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import add_agent

from .conftest import axe_violations, screenshot
from .helpers import PASSWORD, unique_email

pytestmark = pytest.mark.timeout(300)


def sign_in(page: Page, url: str, email: str) -> None:
    page.goto(f"{url}/dashboard")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def figure(text: str) -> int:
    """A whole number as the dashboard shows it in any language ("1,234", "1\u202f234")."""
    return int(re.sub(r"\D", "", text))


def test_dashboard_shows_a_simulated_month(live, simulated_month, page: Page) -> None:
    gw, _bot, redis = live
    manager, agent = unique_email("boss"), unique_email("agent")
    add_agent(redis.url, manager, PASSWORD, role="manager")
    add_agent(redis.url, agent, PASSWORD)

    sign_in(page, gw.url, agent)
    expect(page.locator("#login-error")).to_have_text("This page is for managers and admins.")

    sign_in(page, gw.url, manager)
    expect(page.locator("#status")).to_contain_text("Figures from", timeout=30_000)
    tiles = page.locator("#tiles .tile")
    expect(tiles).to_have_count(14)
    conversations = tiles.first.locator(".value")                    # "Conversations"
    total = figure(conversations.inner_text())
    assert total > 100
    expect(tiles.filter(has_text="CSAT").locator(".value")).to_contain_text("%")
    points = page.locator("#chart polyline.series--conv").get_attribute("points") or ""
    assert len(points.split()) == 30
    assert page.locator("#reasons tr").count() >= 5
    # the matrix: every reason with enough feedback sits in one quadrant, named by its action
    expect(page.locator("#matrix .quadrant")).to_have_count(4)
    placed = page.locator("#matrix .quadrant li:not(.none)").count()
    assert placed >= 5
    assert page.locator("#matrix .quadrant--eliminate li:not(.none)").count() >= 1   # delays, double charges
    expect(page.locator("#topics tr").first).not_to_have_text("Nothing missed", timeout=60_000)
    assert page.locator("#topics tr").count() >= 2
    expect(page.locator("#variants")).to_contain_text("delivery-tracking-fr")
    # a per-reason CSAT says how many answers it rests on, and when they are too few (issue 19)
    expect(page.locator("#reasons")).to_contain_text(re.compile(r"\d+\s?% \(1 answer, too few\)"))
    assert page.locator("#verbatims tr").count() >= 3
    page.get_by_label("Survey").select_option("nps")
    expect(page.locator("#verbatims tr").first).to_contain_text("NPS")
    screenshot(page, "dashboard", full_page=True)
    assert axe_violations(page) == []

    with page.expect_download() as download:                           # CSV with the token, one click
        page.get_by_role("button", name="KPIs as CSV").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert download.value.suggested_filename.startswith("kpis-") and text.startswith("metric,value")
    assert "csat.score" in text
    with page.expect_download() as download:
        page.get_by_role("button", name="Reasons as CSV").click()
    rows = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    assert rows[0].startswith("reason,volume,") and len(rows) - 1 == page.locator("#reasons tr").count()

    page.get_by_label("Channel").select_option("whatsapp")          # a filter narrows every figure
    before = conversations.inner_text()
    page.wait_for_function("b => document.querySelector('#tiles .tile .value').textContent !== b", arg=before)
    assert 0 < figure(conversations.inner_text()) < total
