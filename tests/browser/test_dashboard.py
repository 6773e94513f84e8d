"""The manager's dashboard in a real browser, on a synthetic month loaded with
`python -m analytics simulate` into the live stack's Redis: admin login, KPI tiles, the daily
chart, contact reasons, CSV export, axe-core, a screenshot; a plain agent is turned away."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date

import httpx
import pytest
from playwright.sync_api import Page, expect

from ops.local_stack import REPO
from tests.e2e.conftest import add_agent

from .conftest import axe_violations, screenshot
from .test_console import PASSWORD, unique_email

pytestmark = pytest.mark.timeout(300)


def sign_in(page: Page, url: str, email: str) -> None:
    page.goto(f"{url}/dashboard")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_dashboard_shows_a_simulated_month(live, page: Page) -> None:
    gw, _bot, redis = live
    res = subprocess.run([sys.executable, "-m", "analytics", "simulate", "--days", "30", "--seed", "1",
                          "--per-day", "15", "--end", date.today().isoformat()], cwd=REPO,
                         capture_output=True, text=True, timeout=240,
                         env={**os.environ, "REDIS_URL": redis.url})
    assert res.returncode == 0, res.stderr
    admin, agent = unique_email("boss"), unique_email("agent")
    add_agent(redis.url, admin, PASSWORD, role="admin")
    add_agent(redis.url, agent, PASSWORD)

    sign_in(page, gw.url, agent)
    expect(page.locator("#login-error")).to_have_text("This page is for admins.")

    sign_in(page, gw.url, admin)
    expect(page.locator("#status")).to_contain_text("Figures from", timeout=30_000)
    tiles = page.locator("#tiles .tile")
    expect(tiles).to_have_count(12)
    conversations = tiles.first.locator(".value")                    # "Conversations"
    total = int(conversations.inner_text())
    assert total > 100
    expect(tiles.filter(has_text="CSAT").locator(".value")).to_contain_text("%")
    points = page.locator("#chart polyline.series--conv").get_attribute("points") or ""
    assert len(points.split()) == 30
    assert page.locator("#reasons tr").count() >= 5
    screenshot(page, "dashboard")
    assert axe_violations(page) == []

    token = page.evaluate("sessionStorage.getItem('dashboard.token')")
    href = page.locator("#csv-kpis").get_attribute("href")
    csv = httpx.get(f"{gw.url}{href}", headers={"Authorization": f"Bearer {token}"})
    assert csv.status_code == 200 and csv.text.startswith("metric,value") and "csat.score" in csv.text

    page.get_by_label("Channel").select_option("whatsapp")          # a filter narrows every figure
    page.wait_for_function(f"() => document.querySelector('#tiles .tile .value').textContent !== '{total}'")
    assert 0 < int(conversations.inner_text()) < total
