"""The dashboard says what the API says (issue 19), in a real browser on the simulated month:

- the "Solved by the bot" tile shows the API's bot resolution for the same request, with the one
  definition as its explanation, and the CSV of that request carries the same number;
- chats and tickets have their own first-reply tiles (median, p90), no mixed "human" mean;
- every answer-based rate shows its count, and "too few answers" exactly when the API says low_data;
- the chart has dated x ticks, y values, and a tooltip per day (hover and keyboard) with the
  day's figures from the API;
- trends only against a previous period with data; reasons always by name, never by code;
- axe-core finds nothing serious with a tooltip open, in English and in French.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from analytics.kpi import round_half_away
from kit import texts
from tests.e2e.conftest import add_agent

from .conftest import axe_violations, browser_in
from .helpers import PASSWORD, Live, script_errors, unique_email

pytestmark = pytest.mark.timeout(300)
ANSWER_TILES = {"fcr": "tiles.contacts", "csat": "tiles.answers", "nps": "tiles.answers",
                "ces": "tiles.answers", "thumbs": "tiles.votes"}
REASON_CODE = re.compile(r"\b[a-z]+(?:-[a-z]+)*/[a-z]+(?:-[a-z]+)*\b")


def plural(lang: str, key: str, n: int) -> str:
    """The dashboard's `tn` for whole numbers under 1000 (no grouping)."""
    t = texts.section(lang, "dashboard")
    form = "one" if (n == 1 if lang == "en" else n in (0, 1)) else "other"
    return t[f"{key}.{form}"].replace("{n}", str(n))


def sign_in(page: Page, url: str, email: str, lang: str) -> dict[str, Any]:
    """Signs in and returns what the page asked for: the kpis and daily URLs and their JSON."""
    t = texts.section(lang, "dashboard")
    page.goto(f"{url}/dashboard")
    page.get_by_label(t["login.email"]).fill(email)
    page.get_by_label(t["login.password"]).fill(PASSWORD)
    with page.expect_response(lambda r: "/api/admin/analytics/kpis?" in r.url) as kpis, \
            page.expect_response(lambda r: "/api/admin/analytics/daily?" in r.url) as daily:
        page.get_by_role("button", name=t["login.submit"]).click()
    expect(page.locator("#tiles .tile")).to_have_count(14, timeout=30_000)
    return {"kpis_url": kpis.value.url, "kpis": kpis.value.json(), "daily": daily.value.json()}


def auth(page: Page) -> dict[str, str]:
    return {"Authorization": f"Bearer {page.evaluate('sessionStorage.getItem(`dashboard.token`)')}"}


def check_answer_tiles(page: Page, kpis: dict[str, Any], lang: str) -> set[bool]:
    """Each answer-based tile shows the API's count, and the low-data mark exactly when flagged."""
    seen = set()
    for name, key in ANSWER_TILES.items():
        block = kpis[name]
        tile = page.locator(f'#tiles [data-tile="{name}"]')
        expect(tile.locator(".count")).to_have_text(plural(lang, key, block["n"]))
        expect(tile.locator(".low")).to_have_count(1 if block["low_data"] else 0)
        if block["low_data"]:
            expect(tile.locator(".low")).to_have_text(texts.section(lang, "dashboard")["tiles.low_data"])
        seen.add(block["low_data"])
    return seen


def test_tiles_chart_and_trends_say_what_the_api_says(live: Live, simulated_month: None, page: Page) -> None:
    gw, _, redis = live
    manager = unique_email("honest")
    add_agent(redis.url, manager, PASSWORD, role="manager")
    errors = script_errors(page)
    seen = sign_in(page, gw.url, manager, "en")
    en = texts.section("en", "dashboard")

    # the same request, asked again outside the browser: the tile shows exactly its figure
    api = httpx.get(seen["kpis_url"], headers=auth(page)).json()
    rate = api["bot_resolution"]["rate"]
    assert rate is not None and api == seen["kpis"]
    tile = page.locator('#tiles [data-tile="bot_resolution"]')
    expect(tile.locator(".label")).to_have_text("Solved by the bot")
    expect(tile.locator(".value")).to_have_text(f"{round_half_away(rate)}%")
    assert float(tile.locator(".value").get_attribute("data-raw") or "nan") == pytest.approx(rate)
    expect(tile.locator(".hint")).to_have_text(en["tiles.bot_resolution_hint"])
    contained = page.locator('#tiles [data-tile="contained"]')          # containment is another figure
    expect(contained.locator(".label")).to_have_text("No agent, no ticket")
    expect(contained.locator(".value")).to_have_text(f"{round_half_away(api['containment']['rate'])}%")
    query = dict(parse_qsl(urlsplit(seen["kpis_url"]).query))
    exported = httpx.get(seen["kpis_url"].split("?")[0], headers=auth(page),
                         params={**query, "format": "csv", "dialect": "plain"})
    assert float(dict(csv.reader(io.StringIO(exported.text)))["bot_resolution.rate"]) == pytest.approx(rate)

    # first replies: chats and tickets apart, median as the value, p90 in the explanation
    frt = api["first_response"]
    assert "human" not in frt and page.locator('[data-tile="human_first"]').count() == 0
    for name, block, key in (("chat_first", frt["human_chat"], "tiles.chats"),
                             ("ticket_first", frt["human_ticket"], "tiles.tickets")):
        assert block is not None, name                                   # the simulation has both
        t = page.locator(f'#tiles [data-tile="{name}"]')
        raw = t.locator(".value").get_attribute("data-raw") or "nan"
        assert float(raw) == pytest.approx(block["median_s"])
        expect(t.locator(".hint")).to_contain_text("9 in 10 within")
        expect(t.locator(".count")).to_have_text(plural("en", key, block["n"]))

    flags = check_answer_tiles(page, api, "en")

    # the chart: dated x axis ending today, y values from 0, one point per day with the API's figures
    days = seen["daily"]["days"]
    x_ticks = page.locator("#chart .tick--x")
    assert 4 <= x_ticks.count() <= 9
    assert all(re.fullmatch(r"\d{1,2} [A-Z][a-z]{2,3}", t) for t in x_ticks.all_text_contents())
    today = datetime.now(UTC).date()
    assert (x_ticks.last.text_content() or "").startswith(f"{today.day} ")
    y_values = [int(t.replace(",", "")) for t in page.locator("#chart .tick--y").all_text_contents()]
    assert y_values[0] == 0 and y_values == sorted(y_values) and y_values[-1] >= max(d["conv"] for d in days)
    points = page.locator("#chart .point")
    expect(points).to_have_count(len(days))
    for i, d in enumerate(days):
        label = points.nth(i).get_attribute("aria-label") or ""
        conv, bot, handoff = (int(d[m]) for m in ("conv", "conv_bot_resolved", "conv_handoff"))
        figures = f": {conv} conversations, {bot} solved by the bot, {handoff} handed to a human"
        assert label.endswith(figures), label
        assert points.nth(i).locator("title").text_content() == label
    assert page.locator('#chart .point[tabindex="0"]').count() == 1       # one tab stop, arrows inside
    tip = page.locator("#chart .tip")
    expect(tip).to_be_hidden()
    points.last.focus()
    expect(tip).to_be_visible()
    expect(tip).to_have_text(points.last.get_attribute("aria-label") or "")
    page.keyboard.press("ArrowLeft")
    assert page.evaluate("document.activeElement.dataset.day") == days[-2]["day"]
    expect(tip).to_have_text(points.nth(len(days) - 2).get_attribute("aria-label") or "")
    assert axe_violations(page) == []                                    # with the tooltip open
    points.first.hover()
    expect(tip).to_have_text(points.first.get_attribute("aria-label") or "")

    # 30 days: the simulated month has no earlier data, so no trend and no "new" anywhere
    note = page.locator("#trend-note")
    expect(note).to_be_visible()
    expect(note).to_contain_text("No trend: no conversations in the previous period")
    trends = page.locator("#reasons tr td:nth-child(3)")
    assert trends.count() >= 5 and set(trends.all_inner_texts()) == {"—"}

    # 7 days: the week before is in the month, so trends are shown; "new" only where the API says so
    with page.expect_response(lambda r: "/api/admin/analytics/reasons?" in r.url) as reasons, \
            page.expect_response(lambda r: "/api/admin/analytics/kpis?" in r.url) as week:
        page.get_by_label("Period").select_option("7")
    body = reasons.value.json()
    assert body["previous"]["conversations"] > 0
    expect(note).to_be_hidden()
    expect(trends.first).not_to_have_text("—")
    cells = page.locator("#reasons tr")
    for i, row in enumerate(body["rows"]):
        cell = cells.nth(i).locator("td").nth(1)
        if row["new"]:
            expect(cell).to_have_text("new")
        else:
            expect(cell).to_have_text(re.compile(r"^[+\-−]?\d+%$"))
    flags |= check_answer_tiles(page, week.value.json(), "en")

    with page.expect_response(lambda r: "/api/admin/analytics/kpis?" in r.url) as small:
        page.get_by_label("Channel").select_option("messenger")         # a small slice: too few answers
    expect(page.locator("#status")).to_contain_text("Figures from")
    flags |= check_answer_tiles(page, small.value.json(), "en")
    for name in ("reasons", "matrix", "topics", "verbatims"):              # names, never codes
        assert not REASON_CODE.search(page.locator(f"#{name}").inner_text()), name
    assert flags == {True, False}, "both a rate with enough answers and one with too few were checked"
    assert errors == [], errors


def test_french_dashboard_is_honest_and_accessible(live: Live, simulated_month: None,
                                                   browser: Browser) -> None:
    gw, _, redis = live
    manager = unique_email("direction-fr")
    add_agent(redis.url, manager, PASSWORD, role="manager")
    fr = texts.section("fr", "dashboard")
    with browser_in(browser, "fr-FR") as page:
        errors = script_errors(page)
        seen = sign_in(page, gw.url, manager, "fr")
        api = seen["kpis"]
        tile = page.locator('#tiles [data-tile="bot_resolution"]')
        expect(tile.locator(".label")).to_have_text("Résolues par le bot")
        expect(tile.locator(".value")).to_have_text(f"{round_half_away(api['bot_resolution']['rate'])}\u00a0%")
        expect(tile.locator(".hint")).to_have_text(fr["tiles.bot_resolution_hint"])
        expect(page.locator('#tiles [data-tile="chat_first"] .hint')).to_contain_text("9 sur 10 en moins de")
        check_answer_tiles(page, api, "fr")
        x_ticks = page.locator("#chart .tick--x").all_text_contents()
        months = r"(janv|févr|mars|avr|mai|juin|juil|août|sept|oct|nov|déc)\.?"
        assert x_ticks and all(re.fullmatch(rf"\d{{1,2}} {months}", t) for t in x_ticks), x_ticks
        point = page.locator("#chart .point").last
        assert re.fullmatch(r"\d{1,2} \w+ \d{4}\u00a0: \d+ conversations, \d+ résolues par le bot, "
                            r"\d+ transmises à un conseiller", point.get_attribute("aria-label") or "")
        point.focus()
        expect(page.locator("#chart .tip")).to_be_visible()
        expect(page.locator("#trend-note")).to_contain_text("Pas de tendance\u00a0: aucune conversation")
        assert "nouveau" not in page.locator("#reasons").inner_text()
        for name in ("reasons", "matrix", "topics", "verbatims"):
            assert not REASON_CODE.search(page.locator(f"#{name}").inner_text()), name
        assert axe_violations(page) == []
        assert errors == [], errors
