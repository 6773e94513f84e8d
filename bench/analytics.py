"""`python -m bench.analytics` (part of `make bench`): the manager's dashboard on a year of traffic.

Issue 7 asks for KPI computation time on 1 million analytics events (dashboard API p95 < 500 ms)
obtained by pre-aggregation, not by scanning raw events on each request. So this benchmark:

1. starts a private, throw-away Redis (embedded redis-server, temp dir, free port);
2. fills it with ~N events (default 1,000,000) of `analytics.simulate.month` over 365 days,
   written through the real write path, `EventLog.append` (stream + per-day counters in one
   checked script call per event), by `analytics.simulate.load` in several processes at once, each on
   its own share of the conversations; the fill rate is measured;
3. times the dashboard's own requests through the real FastAPI app (httpx.ASGITransport, an
   admin's bearer token): KPIs over 30 and 365 days, filtered by channel and by a contact-reason
   category, the daily series, the contact-reason breakdown and matrix, the A/B tests, the survey
   comments, and the page's main three (KPIs, daily, reasons) at once as the dashboard loads them
   (not `/unanswered`: it clusters questions with the FAQ's embedding model, which is not loaded);
4. times the naive alternative in the same run: `EventLog.read` over the raw stream and the
   same headline KPIs counted in Python, and checks both give the same numbers.

Markdown on stdout (logs on stderr), then one JSON line with every figure. Filling 1M events takes
~40 min on 2 cores: `--keep-data` keeps the filled Redis, `--reuse DIR` times the queries on it again.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import redis
import redis.asyncio as aioredis
from redis.utils import HIREDIS_AVAILABLE

from analytics.events import EventKind
from analytics.log import DAY, PREFIX, STREAM, EventLog
from analytics.simulate import load, month
from ops.redis_server import RedisServer
from shop.hours import BusinessHours, from_config
from tests.stack import REPO

SHOP = REPO / "config" / "shop.yml"
TARGET_P95_MS = 500.0
ADMIN = ("bench-admin@shop.example", "bench admin password 1")
FILL_JSON = "fill.json"


def log(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 1)


# -- the data ---------------------------------------------------------------------------------------


def reasons() -> list[str]:
    """The contact reasons of the shipped KB's taxonomy (what the simulator draws from)."""
    from retrieval.kb import load_taxonomy

    taxonomy, _ = load_taxonomy(REPO / "kb_content")
    return sorted(taxonomy) if taxonomy else ["delivery/tracking", "returns/process", "payment/declined"]


def per_day_for(target: int, days: int, end: date, reasons_: list[str], tz: str, seed: int) -> int:
    """The simulator's `per_day` that makes `days` days hold about `target` events, measured on a
    4-week pilot (whole weeks: the weekday rhythm averages out; follow-up contacts included)."""
    pilot = month(seed + 1, 28, end, 100, reasons_, tz=tz)
    events_per_unit_day = sum(len(c) for c in pilot) / (28 * 100)
    return max(1, math.ceil(target / (days * events_per_unit_day)))


def _load_share(url: str, share: list[list[Any]], hours: BusinessHours) -> None:
    """One loader process: its own event loop and Redis client, its own conversations."""

    async def run() -> None:
        client = aioredis.Redis.from_url(url)
        try:
            await load(EventLog(client, hours=hours), share, progress=False)
        finally:
            await client.aclose()

    asyncio.run(run())


def fill(url: str, conversations: list[list[Any]], hours: BusinessHours, loaders: int) -> float:
    """Append every event through EventLog.append from `loaders` processes (conversations dealt
    round-robin, so each conversation's events stay in order in one process); progress every 5 %
    from the stream length. Returns the wall time in seconds."""
    total = sum(len(c) for c in conversations)
    ctx = multiprocessing.get_context("fork")  # the shares are inherited, not pickled
    procs = [ctx.Process(target=_load_share, args=(url, conversations[i::loaders], hours), daemon=True)
             for i in range(loaders)]
    started = time.perf_counter()
    for p in procs:
        p.start()
    step, next_mark = max(total // 20, 1), max(total // 20, 1)
    with redis.Redis.from_url(url) as client:
        while alive := [p for p in procs if p.is_alive()]:
            alive[0].join(0.5)
            stored = int(client.xlen(STREAM))
            if stored >= next_mark:
                elapsed = time.perf_counter() - started
                log(f"  fill: {100 * stored / total:5.1f} %  {stored:>9,} events  "
                    f"{stored / elapsed:,.0f} events/s  {elapsed:.0f} s")
                next_mark = (stored // step + 1) * step
    wall = time.perf_counter() - started
    failed = [p.exitcode for p in procs if p.exitcode != 0]
    if failed:
        raise SystemExit(f"a loader process failed (exit codes {failed})")
    return wall


# -- the dashboard API ------------------------------------------------------------------------------


class _NoIndex:
    """Stands in for the FAQ index: the analytics routes never search, and loading the real one
    (torch and the embedding model) would take seconds and a core away from the measurement."""

    ready = True

    def status(self) -> dict[str, Any]:
        return {"ready": True, "index_version": None, "entries": 0, "model": None, "thresholds": None,
                "reloads": 0, "last_reload_at": None, "kb_errors": []}

    def stop(self) -> None:
        pass


@dataclass
class Shape:
    """One kind of dashboard request and its latencies (ms)."""

    name: str
    call: Callable[[], Awaitable[Any]]
    times_ms: list[float]
    one_request: bool = True  # one API request: what the p95 target is about

    def row(self) -> str:
        t = self.times_ms
        ok = "yes" if pct(t, 95) < TARGET_P95_MS else "**no**"
        if not self.one_request:
            ok = f"({ok.strip('*')}, not one request)"
        return f"| {self.name} | {len(t)} | {pct(t, 50)} | {pct(t, 95)} | {round(max(t), 1)} | {ok} |"

    def figures(self) -> dict[str, float]:
        t = self.times_ms
        return {"n": len(t), "p50_ms": pct(t, 50), "p95_ms": pct(t, 95), "max_ms": round(max(t), 1)}


async def time_shapes(shapes: list[Shape], requests: int) -> None:
    """Each shape: 3 untimed warm-up calls, then `requests` timed ones, one at a time."""
    for shape in shapes:
        for _ in range(3):
            await shape.call()
        for _ in range(requests):
            t0 = time.perf_counter()
            await shape.call()
            shape.times_ms.append((time.perf_counter() - t0) * 1000)
        log(f"  {shape.name}: p50 {pct(shape.times_ms, 50)} ms, p95 {pct(shape.times_ms, 95)} ms")


async def measure_api(url: str, tmp: Path, first: date, last: date,
                      requests: int) -> tuple[list[Shape], dict[str, Any]]:
    """The dashboard's requests through the real gateway app (routing, admin auth, JSON), in
    process over ASGI; the app's lifespan runs as under uvicorn. Also report.kpis() alone."""
    from analytics import report
    from gateway import app as gateway_app
    from gateway.settings import Settings

    purge_lock = getattr(gateway_app, "PURGE_LOCK", None)
    if purge_lock:  # as if another gateway had just purged: no retention scan of every key mid-timing
        with redis.Redis.from_url(url) as client:
            client.set(purge_lock, "bench", ex=3600)
    settings = Settings(redis_url=url, kb_dir=REPO / "kb_content", index_dir=tmp / "index",
                        shop_config=SHOP, log_level="WARNING")
    app = gateway_app.create_app(settings, retrieval=_NoIndex())  # type: ignore[arg-type]
    async with app.router.lifespan_context(app):
        state = app.state.gateway
        if await state.accounts.get(ADMIN[0]) is None:  # already there on --reuse
            await state.accounts.add(*ADMIN, role="admin")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=60) as http:
            res = await http.post("/api/agent/login", json={"email": ADMIN[0], "password": ADMIN[1]})
            res.raise_for_status()
            http.headers["Authorization"] = f"Bearer {res.json()['token']}"

            def get(path: str, **params: str) -> Callable[[], Awaitable[Any]]:
                async def call() -> Any:
                    res = await http.get(f"/api/admin/analytics/{path}", params=params)
                    if res.status_code != 200:
                        raise RuntimeError(f"{path} {params}: {res.status_code} {res.text[:300]}")
                    return res.json()
                return call

            year, month_ = {"start": first.isoformat(), "end": last.isoformat()}, {
                "start": (last - timedelta(days=29)).isoformat(), "end": last.isoformat()}
            kpis_year, daily_year = get("kpis", **year), get("daily", **year)
            reasons_year = get("reasons", **year)

            async def page() -> Any:  # the main figures dashboard.js asks for on each load / filter change
                return await asyncio.gather(kpis_year(), daily_year(), reasons_year())

            async def direct() -> Any:
                return await report.kpis(state.redis, first, last)

            shapes = [Shape(name, call, [], one) for name, call, one in (
                ("KPIs, last 30 days", get("kpis", **month_), True),
                ("KPIs, last 365 days", kpis_year, True),
                ("KPIs, 365 days, channel=whatsapp", get("kpis", channel="whatsapp", **year), True),
                ("KPIs, 365 days, reason=delivery (category)", get("kpis", reason="delivery", **year), True),
                ("daily series, 365 days", daily_year, True),
                ("breakdown by reason, 365 days", get("breakdown", dim="reason", **year), True),
                ("contact reasons matrix (/reasons), 365 days", reasons_year, True),
                ("A/B tests of answers (/variants), 365 days", get("variants", **year), True),
                ("survey comments (/verbatims), 365 days", get("verbatims", **year), True),
                ("dashboard page load, 365 days (KPIs + daily + reasons at once)", page, False),
                ("`report.kpis()` alone, 365 days (no HTTP)", direct, False),
            )]
            await time_shapes(shapes, requests)
            kpis = await kpis_year()
    return shapes, kpis


# -- the naive baseline -----------------------------------------------------------------------------


def naive_kpis(events: list[Any]) -> dict[str, Any]:
    """Conversations, containment and CSAT counted from raw events, as a dashboard without
    pre-aggregation would have to on every request."""
    started, escalated = set(), set()
    csat: list[int] = []
    for e in events:
        if e.kind is EventKind.MESSAGE_IN:
            started.add(e.conversation)
        elif e.kind in (EventKind.HANDOFF_REQUESTED, EventKind.TICKET_CREATED) and e.conversation:
            escalated.add(e.conversation)
        elif e.kind is EventKind.SURVEY_ANSWERED and e.data["survey"] == "csat":
            csat.append(int(e.data["score"]))
    contained = len(started - escalated)
    return {"conversations": len(started), "contained": contained,
            "containment_rate": 100 * contained / len(started) if started else None,
            "csat_n": len(csat),
            "csat_score": 100 * sum(s >= 4 for s in csat) / len(csat) if csat else None}


async def measure_naive(url: str, hours: BusinessHours, first: date, last: date,
                        max_runs: int) -> tuple[list[float], dict[str, Any], int]:
    """Scan the stream for the period and count (up to `max_runs` times; once if it takes > 60 s)."""
    since = datetime.combine(first, datetime.min.time(), hours.tz)
    until = datetime.combine(last + timedelta(days=1), datetime.min.time(), hours.tz)
    client = aioredis.Redis.from_url(url)
    times: list[float] = []
    try:
        for run in range(max_runs):
            t0 = time.perf_counter()
            events = await EventLog(client, hours=hours).read(since, until)
            figures = naive_kpis(events)
            times.append(time.perf_counter() - t0)
            log(f"  naive scan {run + 1}: {len(events):,} events read and counted in {times[-1]:.1f} s")
            if times[-1] > 60:
                break
    finally:
        await client.aclose()
    return times, figures, len(events)


# -- Redis footprint --------------------------------------------------------------------------------


def footprint(url: str, days: list[date]) -> dict[str, Any]:
    """Memory used and keys (by kind), and how much of it is the stream vs the day counters."""
    with redis.Redis.from_url(url) as client:
        info = client.info("memory")
        kinds: Counter[str] = Counter()
        for key in client.scan_iter(match=PREFIX + "*", count=10_000):
            kinds[key.decode()[len(PREFIX):].split(":", 1)[0]] += 1
        day_bytes = sum(client.memory_usage(DAY.format(day=d.isoformat()), samples=0) or 0 for d in days)
        return {"used_memory_human": info["used_memory_human"], "used_memory_bytes": info["used_memory"],
                "keys": client.dbsize(), "keys_by_kind": dict(kinds.most_common()),
                "stream_bytes": client.memory_usage(STREAM, samples=0) or 0,
                "day_counters_bytes": day_bytes,
                "day_fields": sum(client.hlen(DAY.format(day=d.isoformat())) for d in days)}


# -- main -------------------------------------------------------------------------------------------


def _parser(hiredis: bool) -> str:
    return "hiredis" if hiredis else "pure-Python"


def _load() -> str:
    """The 1-minute load average: the machine is shared, so say how busy it was."""
    return f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "?"


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def generate_and_fill(url: str, tmp: Path, args: argparse.Namespace, hours: BusinessHours) -> dict[str, Any]:
    """Simulate ~args.events events ending today and append them all; the fill's figures, also
    saved in tmp/fill.json so that `--reuse tmp` can time the queries again without refilling."""
    tz = str(hours.tz)
    last = datetime.now(hours.tz).date()
    taxonomy = reasons()
    per_day = per_day_for(args.events, args.days, last, taxonomy, tz, args.seed)
    log(f"bench.analytics: generating ~{args.events:,} events (simulate per_day={per_day} x {args.days} "
        f"days, {len(taxonomy)} contact reasons)")
    t0 = time.perf_counter()
    conversations = month(args.seed, args.days, last, per_day, taxonomy, tz=tz)
    total = sum(len(c) for c in conversations)
    generate_s = time.perf_counter() - t0
    log(f"  {total:,} events in {len(conversations):,} conversations, generated in {generate_s:.0f} s")
    load_fill = _load()
    log(f"  Redis {url} (data in {tmp}); appending with {args.loaders} loader processes x 32 concurrent "
        f"appends; load average {load_fill}")
    fill_s = fill(url, conversations, hours, args.loaders)
    with redis.Redis.from_url(url) as client:
        stored = int(client.xlen(STREAM))
    if stored != total:
        raise SystemExit(f"the stream holds {stored:,} events, {total:,} were appended")
    log(f"  filled in {fill_s:.0f} s: {total / fill_s:,.0f} events/s")
    meta = {"events": total, "conversations": len(conversations), "days": args.days, "end": last.isoformat(),
            "loaders": args.loaders, "fill_hiredis": HIREDIS_AVAILABLE, "load_average_fill": load_fill,
            "generate_s": round(generate_s, 1), "fill_s": round(fill_s, 1),
            "fill_events_per_s": round(total / fill_s)}
    (tmp / FILL_JSON).write_text(json.dumps(meta))
    return meta


def measure(url: str, tmp: Path, meta: dict[str, Any], hours: BusinessHours,
            args: argparse.Namespace) -> tuple[dict[str, Any], list[Shape]]:
    """Footprint, dashboard API, naive scan, on a filled Redis: every figure of the report."""
    last = date.fromisoformat(meta["end"])
    first = last - timedelta(days=meta["days"] - 1)
    memory = footprint(url, [first + timedelta(days=i) for i in range(meta["days"])])
    log(f"  Redis: {memory['used_memory_human']}, {memory['keys']:,} keys")
    load_api = _load()
    log(f"  timing the dashboard API, {args.requests} requests per query shape; load average {load_api}")
    shapes, kpis = asyncio.run(measure_api(url, tmp, first, last, args.requests))
    log("  the naive way: scanning the raw stream")
    naive_s, naive, scanned = asyncio.run(measure_naive(url, hours, first, last, args.naive_runs))
    year = next(s for s in shapes if s.name == "KPIs, last 365 days")
    pre = {"conversations": kpis["volume"]["conversations"], "contained": kpis["containment"]["contained"],
           "containment_rate": kpis["containment"]["rate"], "csat_n": kpis["csat"]["n"],
           "csat_score": kpis["csat"]["score"]}
    figures = {
        **meta, "cores": _cores(), "hiredis": HIREDIS_AVAILABLE, "load_average_api": load_api,
        "redis": memory, "api": {s.name: s.figures() for s in shapes}, "target_p95_ms": TARGET_P95_MS,
        "target_met": all(pct(s.times_ms, 95) < TARGET_P95_MS for s in shapes if s.one_request),
        "naive": {"runs_s": [round(t, 2) for t in naive_s], "events_scanned": scanned, "figures": naive},
        "preaggregated": pre,
        "agree": all(abs((pre[k] or 0) - (naive[k] or 0)) < 1e-6 for k in pre),
        "naive_over_preaggregated_p50": round(statistics.median(naive_s) * 1000 / pct(year.times_ms, 50), 1),
    }
    return figures, shapes


def main() -> int:
    """Run the benchmark; 0 when every dashboard API request meets p95 < 500 ms and the naive
    scan finds the same figures as the counters."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=1_000_000, help="about this many events (default 1M)")
    p.add_argument("--days", type=int, default=365, help="spread over this many days, ending today")
    p.add_argument("--loaders", type=int, default=_cores(),
                   help="loader processes, 32 concurrent appends each (default: one per core)")
    p.add_argument("--requests", type=int, default=50, help="timed requests per dashboard query shape")
    p.add_argument("--naive-runs", type=int, default=3, help="naive scans (only 1 if it takes > 60 s)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--keep-data", action="store_true", help="keep the temp dir (Redis AOF) afterwards")
    p.add_argument("--reuse", type=Path, metavar="DIR",
                   help="time the queries on the data kept in DIR by an earlier run (no generate/fill)")
    args = p.parse_args()

    hours = from_config(SHOP)
    from gateway.app import create_app  # noqa: F401 - fail now, not after a 40-minute fill

    tmp = args.reuse or Path(tempfile.mkdtemp(prefix="bench-analytics-"))
    keep = bool(args.keep_data or args.reuse)
    try:
        t0 = time.perf_counter()
        with RedisServer(port=0, data_dir=tmp / "redis", use_env=False, start_timeout=1800) as server:
            if args.reuse:
                meta = json.loads((tmp / FILL_JSON).read_text())
                log(f"bench.analytics: {meta['events']:,} events of {tmp} loaded in "
                    f"{time.perf_counter() - t0:.0f} s")
            else:
                meta = generate_and_fill(server.url, tmp, args, hours)
            figures, shapes = measure(server.url, tmp, meta, hours, args)
    except BaseException:
        keep = keep or (tmp / FILL_JSON).exists()  # a failure after the fill: keep it for --reuse
        raise
    finally:
        if keep:
            log(f"  data kept in {tmp}: `python -m bench.analytics --reuse {tmp}` times the queries again")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print_markdown(figures, shapes, args.requests)
    print(json.dumps(figures), flush=True)
    return 0 if figures["target_met"] and figures["agree"] else 1


def print_markdown(f: dict[str, Any], shapes: list[Shape], requests: int) -> None:
    """The section of docs/benchmarks.md, from the figures."""
    m, naive, pre = f["redis"], f["naive"], f["preaggregated"]
    print(f"## Analytics: dashboard KPIs on {f['events']:,} events, "
          "`python -m bench.analytics` (part of `make bench`)\n")
    print(f"{f['events']:,} events ({f['conversations']:,} conversations of `analytics.simulate`, "
          f"{f['days']} days ending {f['end']}) appended through `EventLog.append` into a fresh embedded "
          f"Redis (AOF, fsync every second) by {f['loaders']} loader processes x 32 concurrent appends "
          f"(redis-py, {_parser(f['fill_hiredis'])} parser) on {f['cores']} cores shared with Redis "
          f"(1-min load average {f['load_average_fill']} at the start): "
          f"**{f['fill_events_per_s']:,} events/s** ({f['fill_s']:.0f} s; generating the events took "
          f"{f['generate_s']:.0f} s more).\n")
    print(f"Redis afterwards: **{m['used_memory_human']}** used, {m['keys']:,} keys "
          f"({', '.join(f'{n:,} {kind}' for kind, n in m['keys_by_kind'].items())}): the stream "
          f"{m['stream_bytes'] / 2**20:.0f} MiB, the {f['days']} day-counter hashes "
          f"{m['day_counters_bytes'] / 2**20:.0f} MiB ({m['day_fields']:,} fields), the rest mostly the "
          "per-event idempotency keys (30-day TTL) and conversation facts (35-day TTL).\n")
    print("Dashboard API through the real gateway app (FastAPI over ASGI, admin bearer token, JSON; "
          f"redis-py {_parser(f['hiredis'])} parser), "
          f"{requests} sequential requests per shape after 3 warm-ups (1-min load average "
          f"{f['load_average_api']} at the start):\n")
    print("| request | n | p50 ms | p95 ms | max ms | p95 < 500 ms |\n|---|---|---|---|---|---|")
    for shape in shapes:
        print(shape.row())
    runs = naive["runs_s"]
    print(f"\nNaive baseline, same run: `EventLog.read` of the period's raw events "
          f"({naive['events_scanned']:,}), then conversations, containment and CSAT counted in Python: "
          f"**{statistics.median(runs):.1f} s** ({len(runs)} run{'s' if len(runs) > 1 else ''}: "
          f"{', '.join(f'{t:.1f}' for t in runs)} s), **{f['naive_over_preaggregated_p50']:,.0f}x** the "
          "pre-aggregated 365-day KPIs at p50. Same figures both ways: "
          f"{'yes' if f['agree'] else '**no**'} (conversations {pre['conversations']:,} / "
          f"{naive['figures']['conversations']:,}, contained {pre['contained']:,} / "
          f"{naive['figures']['contained']:,}, CSAT answers {pre['csat_n']:,} / "
          f"{naive['figures']['csat_n']:,}).\n", flush=True)


if __name__ == "__main__":
    sys.exit(main())
