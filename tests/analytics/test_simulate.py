"""`python -m analytics simulate`: a deterministic synthetic period the KPI report reads back."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import redis.asyncio as aioredis

from analytics import report
from analytics.simulate import month
from ops.redis_server import RedisServer

REPO = Path(__file__).resolve().parents[2]
END = date(2026, 11, 20)


def test_the_same_seed_gives_the_same_month() -> None:
    reasons = ["delivery/tracking", "returns/process", "payment/declined"]
    a = month(1, 7, END, 30, reasons)
    b = month(1, 7, END, 30, reasons)
    assert [[e.id for e in c] for c in a] == [[e.id for e in c] for c in b]
    assert [[e.data for e in c] for c in a] == [[e.data for e in c] for c in b]
    weekdays = {}
    for conv in a:
        day = conv[0].at
        weekdays.setdefault(date.fromtimestamp(day).weekday(), 0)
        weekdays[date.fromtimestamp(day).weekday()] += 1
    assert weekdays[0] > weekdays[6]                       # Monday busier than Sunday


def test_simulate_fills_redis_and_the_report_reads_it(redis_server: RedisServer) -> None:
    redis_server.client().flushdb()
    res = subprocess.run([sys.executable, "-m", "analytics", "simulate", "--days", "5", "--seed", "1",
                          "--per-day", "25", "--end", END.isoformat()], cwd=REPO, capture_output=True,
                         text=True, timeout=300, env={**os.environ, "REDIS_URL": redis_server.url})
    assert res.returncode == 0, res.stderr
    expected = len(month(1, 5, END, 25, sorted(_reasons())))

    async def read() -> tuple[dict, dict]:
        client = aioredis.Redis.from_url(redis_server.url)
        try:
            kpis = await report.kpis(client, date(2026, 11, 16), END)
            reasons = await report.breakdown(client, date(2026, 11, 16), END, "reason")
            return kpis, reasons
        finally:
            await client.aclose()

    kpis, reasons = asyncio.run(read())
    assert kpis["volume"]["conversations"] == expected
    assert 0 < kpis["containment"]["rate"] < 100 and 0 < kpis["handoff"]["rate"] < 100
    assert kpis["csat"]["n"] > 0 and kpis["faq_bands"]["counts"]["answer"] > 0
    assert len(reasons) >= 5 and sum(reasons.values()) == expected


def _reasons() -> set[str]:
    from retrieval.kb import load_taxonomy

    taxonomy, _ = load_taxonomy(REPO / "kb_content")
    return set(taxonomy or ())
