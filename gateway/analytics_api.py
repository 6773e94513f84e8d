"""The managers' numbers (`/api/admin/analytics/...`, manager or admin role): KPIs over a period
with filters, per-day series, breakdowns, the contact-reason matrix, A/B tests of answers, survey
verbatims and the topics the FAQ is missing; each as JSON or CSV. Everything but the topics reads
pre-aggregated counters, so the cost does not grow with traffic."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from analytics import report
from handoff.accounts import ANALYTICS_ROLES

from .agent_api import Agent
from .csv_export import DIALECTS, csv_text
from .deps import get_state
from .errors import error_response

# every table is JSON, or CSV with ?format=csv
router = APIRouter(prefix="/api/admin/analytics", responses={200: {"content": {
    "application/json": {"schema": {"type": "object"}}, "text/csv": {"schema": {"type": "string"}}}}})
Format = Literal["json", "csv"]
Dim = Literal["channel", "lang", "reason"]
Survey = Literal["csat", "ces", "nps"]
DAILY_METRICS = ("conv", "conv_bot_resolved", "conv_contained", "conv_handoff", "conv_ticket", "msg_in")
TOPICS_CACHE_S = 300


def _period(state: Any, start: str | None, end: str | None) -> tuple[date, date]:
    today = state.clock().astimezone(state.action_services.hours.tz).date() if state.clock else date.today()
    end_day = date.fromisoformat(end) if end else today
    start_day = date.fromisoformat(start) if start else end_day - timedelta(days=29)
    if start_day > end_day:
        raise ValueError("start is after end")
    if (end_day - start_day).days >= report.MAX_DAYS:
        raise ValueError(f"period too long (max {report.MAX_DAYS} days)")
    return start_day, end_day


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """{"csat": {"score": 80}} -> {"csat.score": 80}: one CSV row per metric."""
    if not isinstance(data, dict):
        return {prefix: data}
    out: dict[str, Any] = {}
    for key, value in data.items():
        out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def _csv(header: Sequence[str], rows: Sequence[Sequence[Any]], name: str, dialect: str) -> Response:
    """Shoppers' texts end up in these cells: csv_text neutralises spreadsheet formulas."""
    return Response(csv_text(header, rows, dialect), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


Table = tuple[Sequence[str], Sequence[Sequence[Any]]]
Produce = Callable[[Any, date, date], Awaitable[tuple[dict[str, Any], Table]]]


async def _answer(request: Request, agent: Any, start: str | None, end: str | None, fmt: str, name: str,
                  produce: Produce) -> Response:
    """Role and period checks, then JSON or CSV of what `produce(state, first, last)` returns
    (the JSON body and the CSV table)."""
    if agent.role not in ANALYTICS_ROLES:
        return error_response(403, "the analytics are for managers and admins")
    if fmt not in ("json", "csv"):
        return error_response(422, "format must be json or csv")
    # CSV for French Excel (";", decimal comma, BOM) for a manager whose account reads French
    # (the dashboard always says which, from the language it shows), else standard CSV
    dialect = request.query_params.get("dialect") or ("excel-fr" if agent.lang == "fr" else "plain")
    if dialect not in DIALECTS:
        return error_response(422, f"dialect must be one of {', '.join(DIALECTS)}")
    state = get_state(request)
    try:
        first, last = _period(state, start, end)
        body, (header, rows) = await produce(state, first, last)
    except ValueError as exc:
        return error_response(422, str(exc))
    if fmt == "csv":
        return _csv(header, rows, f"{name}-{first}-{last}", dialect)
    return JSONResponse(body)


def _filters(*values: str | None) -> list[str | None]:
    return [v or None for v in values]


@router.get("/kpis")
async def kpis(request: Request, agent: Agent, start: str | None = None, end: str | None = None,
               channel: str | None = None, lang: str | None = None, reason: str | None = None,
               format: Format = "json") -> Response:  # noqa: A002
    async def produce(state: Any, first: date, last: date) -> tuple[dict[str, Any], Table]:
        data = await report.kpis(state.redis, first, last, *_filters(channel, lang, reason),
                                 as_of=state.clock() if state.clock else datetime.now())
        return data, (["metric", "value"], sorted(flatten(data).items()))
    return await _answer(request, agent, start, end, format, "kpis", produce)


@router.get("/breakdown")
async def breakdown(request: Request, agent: Agent, dim: Dim = "reason", metric: str = "conv",
                    start: str | None = None, end: str | None = None, format: Format = "json") -> Response:  # noqa: A002
    async def produce(state: Any, first: date, last: date) -> tuple[dict[str, Any], Table]:
        data = await report.breakdown(state.redis, first, last, dim, metric)
        body = {"dim": dim, "metric": metric, "start": str(first), "end": str(last), "values": data}
        return body, ([dim, metric], list(data.items()))
    return await _answer(request, agent, start, end, format, f"{metric}-by-{dim}", produce)


@router.get("/daily")
async def daily(request: Request, agent: Agent, start: str | None = None, end: str | None = None,
                channel: str | None = None, lang: str | None = None, reason: str | None = None,
                format: Format = "json") -> Response:  # noqa: A002
    """Per-day volumes for the charts: conversations, resolved by the bot, contained, handed off,
    with a ticket."""
    async def produce(state: Any, first: date, last: date) -> tuple[dict[str, Any], Table]:
        per_day = await report.counters(state.redis, report.day_range(first, last),
                                        *_filters(channel, lang, reason), metrics=DAILY_METRICS)
        rows = [{"day": day.isoformat(), **{m: values.get(m, 0) for m in DAILY_METRICS}}
                for day, values in sorted(per_day.items())]
        return ({"start": str(first), "end": str(last), "days": rows},
                (["day", *DAILY_METRICS], [list(r.values()) for r in rows]))
    return await _answer(request, agent, start, end, format, "daily", produce)


REASON_COLUMNS = ("reason", "volume", "previous_volume", "trend", "new", "bot_resolution", "containment",
                  "csat", "csat_answers", "csat_low_data", "irritant", "value", "irritant_level", "action",
                  "few_data")
SIGNALS = ("dissatisfied", "thumbs_down", "repeat_contact", "hard_effort")


@router.get("/reasons")
async def reasons(request: Request, agent: Agent, start: str | None = None, end: str | None = None,
                  format: Format = "json") -> Response:  # noqa: A002
    """Contact reasons on the value/irritant matrix, with the suggested action; trends against the
    previous period of the same length (`previous`) only when it has conversations."""
    async def produce(state: Any, first: date, last: date) -> tuple[dict[str, Any], Table]:
        rules = state.shop.reasons
        rows, previous = await report.reasons_with_previous(state.redis, first, last, rules)
        body = {"start": str(first), "end": str(last), "previous": previous, "rows": rows,
                "rules": {"high_value": list(rules.high_value),
                          "irritant_threshold": rules.irritant_threshold,
                          "min_conversations": rules.min_conversations}}
        table = [[r[c] for c in REASON_COLUMNS] + [r["signals"].get(s) for s in SIGNALS] for r in rows]
        return body, ([*REASON_COLUMNS, *SIGNALS], table)
    return await _answer(request, agent, start, end, format, "reasons", produce)


@router.get("/variants")
async def variants(request: Request, agent: Agent, start: str | None = None, end: str | None = None,
                   format: Format = "json") -> Response:  # noqa: A002
    """A/B tests of FAQ answers: per variant, answers shown, thumbs-up rate, containment, z-tests."""
    async def produce(state: Any, first: date, last: date) -> tuple[dict[str, Any], Table]:
        entries = await report.variants(state.redis, first, last)
        table = []
        for e in entries:
            thumbs, contained = e["thumbs_test"] or {}, e["containment_test"] or {}
            for name, v in e["variants"].items():
                table.append([e["entry"], name, v["shown"], v["up"], v["down"], v["up_rate"], v["low_data"],
                              v["conv"], v["contained"], v["containment"], thumbs.get("p_value"),
                              contained.get("p_value")])
        header = ["entry", "variant", "shown", "up", "down", "up_rate", "up_rate_low_data", "conversations",
                  "contained", "containment", "thumbs_p_value", "containment_p_value"]
        return {"start": str(first), "end": str(last), "entries": entries}, (header, table)
    return await _answer(request, agent, start, end, format, "ab-tests", produce)


@router.get("/verbatims")
async def verbatims(request: Request, agent: Agent, start: str | None = None, end: str | None = None,
                    reason: str | None = None, survey: Survey | None = None,
                    limit: Annotated[int, Query(ge=1, le=2000)] = 200,
                    format: Format = "json") -> Response:  # noqa: A002
    """What customers wrote after their score ("why?"), masked, newest first, with counts per
    contact reason and score band."""
    async def produce(state: Any, first: date, last: date) -> tuple[dict[str, Any], Table]:
        if survey not in (None, "", "csat", "ces", "nps"):
            raise ValueError("survey must be csat, ces or nps")
        rows = await report.verbatims(state.redis, first, last, reason=reason or None, survey=survey or None,
                                      limit=max(1, min(limit, 2000)))
        by_reason: dict[str, dict[str, int]] = {}
        for row in rows:
            bands = by_reason.setdefault(row["reason"], {})
            bands[row["band"]] = bands.get(row["band"], 0) + 1
        columns = ("at", "reason", "survey", "score", "band", "channel", "lang", "text")
        table = [[datetime.fromtimestamp(r["at"]).isoformat(timespec="seconds"), *(r[c] for c in columns[1:])]
                 for r in rows]
        body = {"start": str(first), "end": str(last), "verbatims": rows, "by_reason": by_reason}
        return body, (columns, table)
    return await _answer(request, agent, start, end, format, "verbatims", produce)


_topics_cache: dict[tuple[Any, ...], tuple[float, list[dict[str, Any]], int]] = {}


@router.get("/unanswered")
async def unanswered(request: Request, agent: Agent, start: str | None = None, end: str | None = None,
                     top: Annotated[int, Query(ge=1, le=30)] = 10,
                     format: Format = "json") -> Response:  # noqa: A002
    """What the FAQ is missing, clustered into topics with counts and example phrasings (cached
    five minutes: clustering is the one computation here that grows with traffic)."""
    async def produce(state: Any, first: date, last: date) -> tuple[dict[str, Any], Table]:
        rows = await report.unanswered(state.redis, first, last)
        topics, questions = await _topics(state, rows, first, last, max(1, min(top, 30)))
        body = {"start": str(first), "end": str(last), "questions": questions, "topics": topics}
        table = [[t["label"], t["count"], t["lang"], t["reason"], t["nearest_entry"], t["why"]["none"],
                  t["why"]["suggest"], t["why"]["thumbs_down"], " | ".join(t["examples"])] for t in topics]
        header = ["topic", "questions", "lang", "reason", "nearest_entry", "no_answer", "suggestion_ignored",
                  "answer_voted_down", "examples"]
        return body, (header, table)
    return await _answer(request, agent, start, end, format, "unanswered", produce)


async def _topics(state: Any, rows: list[dict[str, Any]], first: date, last: date,
                  top: int) -> tuple[list[dict[str, Any]], int]:
    if not rows:
        return [], 0
    if not state.index.ready:
        raise ValueError("the FAQ index is still loading: try again in a minute")
    engine = state.index.service.engine
    key = (engine.version, first, last, top, len(rows), rows[-1].get("at"))
    hit = _topics_cache.get(key)
    if hit and time.monotonic() - hit[0] < TOPICS_CACHE_S:
        return hit[1], hit[2]
    topics = await asyncio.to_thread(_cluster, engine, rows, top)
    _topics_cache.clear()
    _topics_cache[key] = (time.monotonic(), topics, len(rows))
    return topics, len(rows)


def _cluster(engine: Any, rows: list[dict[str, Any]], top: int) -> list[dict[str, Any]]:
    from analytics.unanswered import kb_index_of, topics_report
    from retrieval.text import fold

    # a question an entry now lists (the studio turns a topic into an entry with the shoppers'
    # own phrasings) is answered: its topic leaves the list
    listed = {fold(q).strip() for e in engine.index.entries for q in e.questions}
    rows = [r for r in rows if fold(str(r.get("q") or "")).strip() not in listed]
    if not rows:
        return []
    index = kb_index_of(engine.index.entries, engine.embedder.encode)
    return topics_report(rows, engine.embedder.encode, index, lambda q: engine.detector.detect(q)[0] or "",
                         top=top)
