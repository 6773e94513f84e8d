"""The dashboard's JSON/CSV API on a simulated fortnight: roles (agent refused, manager and admin
allowed), every table as CSV with the same rows as its JSON, the contact-reason matrix adding up
to the KPI volume, A/B tests, verbatims per reason and the unanswered topics."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest
import redis.asyncio as aioredis
from fastapi.testclient import TestClient

from analytics.log import EventLog
from analytics.simulate import load, month
from handoff.accounts import Accounts
from ops.redis_server import RedisServer
from retrieval.service import RetrievalService
from shop.hours import from_config

PASSWORD = "correct horse battery"
END = date(2026, 11, 20)
PERIOD = {"start": "2026-11-07", "end": "2026-11-20"}
REASONS = ["delivery/tracking", "delivery/carrier-delay", "returns/return-process", "returns/exchange",
           "pre-purchase/product-information", "payment/double-charge"]


@pytest.fixture(scope="module")
def filled(redis_server: RedisServer) -> int:
    """14 days x ~40 conversations of simulated traffic, plus the three accounts."""
    async def fill() -> int:
        r = aioredis.Redis.from_url(redis_server.url)
        try:
            await r.flushdb()
            conversations = month(3, 14, END, 40, REASONS)
            await load(EventLog(r, hours=from_config()), conversations, progress=False)
            for email, role in (("agent@shop.example", "agent"), ("manager@shop.example", "manager"),
                                ("admin@shop.example", "admin")):
                await Accounts(r).add(email, PASSWORD, role)
            return len(conversations)
        finally:
            await r.aclose()
    return asyncio.run(fill())


@pytest.fixture
def api(app_factory: Callable[..., Any], retrieval_service: RetrievalService,
        filled: int) -> Iterator[TestClient]:
    with TestClient(app_factory(retrieval=retrieval_service)) as client:
        yield client


def headers(api: TestClient, email: str) -> dict[str, str]:
    res = api.post("/api/agent/login", json={"email": email, "password": PASSWORD})
    assert res.status_code == 200, res.text
    return {"Authorization": f"Bearer {res.json()['token']}"}


ENDPOINTS = ("kpis", "daily", "breakdown", "reasons", "variants", "verbatims", "unanswered")


@pytest.mark.parametrize("name", ENDPOINTS)
def test_analytics_need_a_manager_or_an_admin(api: TestClient, name: str) -> None:
    url = f"/api/admin/analytics/{name}"
    assert api.get(url, params=PERIOD).status_code == 401
    assert api.get(url, params=PERIOD, headers=headers(api, "agent@shop.example")).status_code == 403
    for who in ("manager@shop.example", "admin@shop.example"):
        assert api.get(url, params=PERIOD, headers=headers(api, who)).status_code == 200


def _csv(api: TestClient, name: str, auth: dict[str, str], **params: Any) -> list[dict[str, str]]:
    res = api.get(f"/api/admin/analytics/{name}", params={**PERIOD, **params, "format": "csv"}, headers=auth)
    assert res.status_code == 200, res.text
    assert res.headers["content-type"].startswith("text/csv")
    assert f'filename="{name if name != "variants" else "ab-tests"}' in res.headers["content-disposition"]
    return list(csv.DictReader(io.StringIO(res.text)))


def test_reasons_matrix_adds_up_and_exports(api: TestClient, filled: int) -> None:
    auth = headers(api, "manager@shop.example")
    kpis = api.get("/api/admin/analytics/kpis", params=PERIOD, headers=auth).json()
    body = api.get("/api/admin/analytics/reasons", params=PERIOD, headers=auth).json()
    rows = body["rows"]
    assert {r["reason"] for r in rows} <= set(REASONS)
    assert sum(r["volume"] for r in rows) == kpis["volume"]["conversations"] == filled
    assert all(r["action"] in ("keep_human", "simplify", "automate", "eliminate", "measure") for r in rows)
    values = {r["reason"]: r["value"] for r in rows}
    # as config/shop.yml says
    assert values.get("returns/exchange") == "high" and values.get("delivery/tracking") == "low"
    assert body["rules"]["irritant_threshold"] == 25
    table = _csv(api, "reasons", auth)
    assert [t["reason"] for t in table] == [r["reason"] for r in rows]
    assert [int(t["volume"]) for t in table] == [r["volume"] for r in rows]


def test_ab_tests_verbatims_and_unanswered_topics(api: TestClient) -> None:
    auth = headers(api, "admin@shop.example")
    entries = api.get("/api/admin/analytics/variants", params=PERIOD, headers=auth).json()["entries"]
    [ab] = entries
    assert ab["entry"] == "delivery-tracking-fr" and list(ab["variants"]) == ["default", "short"]
    assert sum(v["shown"] for v in ab["variants"].values()) > 0
    assert len(_csv(api, "variants", auth)) == 2

    verbatims = api.get("/api/admin/analytics/verbatims", params=PERIOD, headers=auth).json()
    assert verbatims["verbatims"], "the simulation leaves comments"
    assert sum(sum(b.values()) for b in verbatims["by_reason"].values()) == len(verbatims["verbatims"])
    nps = api.get("/api/admin/analytics/verbatims", params={**PERIOD, "survey": "nps"}, headers=auth).json()
    assert all(v["survey"] == "nps" for v in nps["verbatims"])
    bad = api.get("/api/admin/analytics/verbatims", params={**PERIOD, "survey": "x"}, headers=auth)
    assert bad.status_code == 422
    assert len(_csv(api, "verbatims", auth)) == len(verbatims["verbatims"])

    topics = api.get("/api/admin/analytics/unanswered", params={**PERIOD, "top": 6}, headers=auth).json()
    assert topics["questions"] > 0 and 1 <= len(topics["topics"]) <= 6
    assert all(t["count"] > 0 and t["examples"] for t in topics["topics"])
    assert len(_csv(api, "unanswered", auth, top=6)) == len(topics["topics"])


def test_bad_periods_and_formats_are_422(api: TestClient) -> None:
    auth = headers(api, "admin@shop.example")
    for params in ({"start": "2026-11-20", "end": "2026-11-01"}, {"start": "yesterday"},
                   {"start": "2020-01-01", "end": "2026-01-01"}, {**PERIOD, "format": "xml"}):
        res = api.get("/api/admin/analytics/reasons", params=params, headers=auth)
        assert res.status_code == 422, params
