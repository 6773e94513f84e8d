"""The manager dashboard in French and English, on the simulated month: a French browser gets it
in French (texts, dates and numbers formatted for fr-FR), the manager switches to English (saved on
the account: a reload keeps it; en-GB formats); axe-core in both languages."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import add_agent

from .conftest import axe_violations, browser_in, screenshot
from .helpers import PASSWORD, Live, script_errors, unique_email

pytestmark = pytest.mark.timeout(300)
MONTHS_FR = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
             "novembre", "décembre"]
MONTHS_EN = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
             "November", "December"]
SPACE = "[\u00a0\u202f]"             # Intl's no-break spaces (fr-FR: "45 %", "1 234")


def test_dashboard_in_french_then_english(live: Live, simulated_month: None, browser: Browser) -> None:
    gw, _, redis = live
    manager = unique_email("direction")
    add_agent(redis.url, manager, PASSWORD, role="manager")
    today = datetime.now(UTC).date()      # the page's period ends on today's UTC date (toISOString)
    with browser_in(browser, "fr-FR") as page:
        errors = script_errors(page)
        page.goto(f"{gw.url}/dashboard")
        expect(page.locator("html")).to_have_attribute("lang", "fr")
        expect(page.locator("h1")).to_have_text("Tableau de bord du service client")
        page.get_by_label("Adresse e-mail").fill(manager)
        page.get_by_label("Mot de passe").fill(PASSWORD)
        page.get_by_role("button", name="Se connecter").click()

        status = page.locator("#status")
        expect(status).to_have_text(re.compile(
            rf"^Chiffres du \d{{1,2}} \w+ \d{{4}} au {today.day} {MONTHS_FR[today.month - 1]} "
            rf"{today.year}\.$"),
            timeout=30_000)
        tile = page.locator("#tiles .tile")
        expect(tile).to_have_count(14)
        expect(page.locator('#tiles [data-tile="bot_resolution"] .label')).to_have_text("Résolues par le bot")
        expect(page.locator('#tiles [data-tile="contained"] .label')).to_have_text(
            "Sans conseiller ni ticket")
        expect(page.locator('#tiles [data-tile="csat"] .value')).to_have_text(re.compile(rf"^\d+{SPACE}%$"))
        expect(page.locator('#tiles [data-tile="handoff"] .hint')).to_have_text(
            re.compile(r"conversations?$"))
        expect(page.locator('#tiles [data-tile="handoff"] .count')).to_have_text(
            re.compile(r"^\d+ rouvertes? après clôture$"))                  # conversations closed too soon
        expect(page.locator("#matrix .quadrant--eliminate h4")).to_have_text("Éliminer la cause")
        expect(page.get_by_role("columnheader", name="Motif").first).to_be_visible()
        expect(page.get_by_label("Période")).to_have_value("30")
        expect(page.locator("#period option:checked")).to_have_text("30 derniers jours")
        expect(page.locator("#unanswered-status")).to_contain_text("sur la période", timeout=60_000)
        expect(page.locator("#verbatims")).to_contain_text(re.compile(r"\((promoteur|passif|détracteur|satisfait|"
                                                                     r"neutre|insatisfait|facile|difficile)\)"))
        expect(page.get_by_role("button", name="Indicateurs en CSV")).to_be_visible()
        # reasons by their names in the manager's language, never their codes (issue 19)
        first_reason = page.locator("#reasons tr td").first
        expect(first_reason).not_to_have_text(re.compile(r"^[a-z-]+/[a-z-]+$"))
        shot = screenshot(page, "dashboard-fr", full_page=True)
        assert shot.stat().st_size > 20_000
        assert axe_violations(page) == []
        with page.expect_download() as download:        # CSV for French Excel: BOM, ";", decimal comma
            page.get_by_role("button", name="Indicateurs en CSV").click()
        raw = Path(download.value.path()).read_text(encoding="utf-8")
        assert raw.startswith("\ufeffmetric;value")
        rows = list(csv.reader(io.StringIO(raw[1:], newline=""), delimiter=";"))
        assert all(len(row) == 2 for row in rows) and len(rows) > 10          # columns, not one column
        assert any(re.fullmatch(r"-?\d+,\d+", value) for _, value in rows[1:])

        page.get_by_label("Langue de l’interface").select_option("en")    # saved on the account
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(status).to_have_text(re.compile(
            rf"^Figures from \d{{1,2}} \w+ \d{{4}} to {today.day} {MONTHS_EN[today.month - 1]} "
            rf"{today.year}\.$"))
        expect(page.locator("h1")).to_have_text("Support dashboard")
        expect(page.locator('#tiles [data-tile="bot_resolution"] .label')).to_have_text("Solved by the bot")
        expect(page.locator('#tiles [data-tile="csat"] .value')).to_have_text(re.compile(r"^\d+%$"))
        expect(page.locator("#matrix .quadrant--eliminate h4")).to_have_text("Eliminate the cause")
        expect(page.locator("#unanswered-status")).to_contain_text("in the period")
        token = page.evaluate("sessionStorage.getItem('dashboard.token')")
        me = httpx.get(f"{gw.url}/api/agent/me", headers={"Authorization": f"Bearer {token}"}).json()
        assert me["lang"] == "en"
        shot = screenshot(page, "dashboard-en", full_page=True)
        assert shot.stat().st_size > 20_000
        assert axe_violations(page) == []

        page.reload()                                                       # the account remembers
        expect(status).to_contain_text("Figures from", timeout=30_000)
        expect(page.locator("html")).to_have_attribute("lang", "en")
        assert errors == [], errors
