"""The managers' numbers (`/api/admin/analytics/...`, admin role): KPIs over a period with
filters, breakdowns (e.g. contact reasons), each as JSON or CSV. Reads only the pre-aggregated
day counters, so the cost does not grow with traffic."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from analytics import report

from .agent_api import Agent
from .errors import error_response
from .state import get_state

router = APIRouter(prefix="/api/admin/analytics")


def _period(state: Any, start: str | None, end: str | None) -> tuple[date, date]:
    today = state.clock().astimezone(state.action_services.hours.tz).date() if state.clock else date.today()
    end_day = date.fromisoformat(end) if end else today
    start_day = date.fromisoformat(start) if start else end_day - timedelta(days=29)
    if start_day > end_day:
        raise ValueError("start is after end")
    return start_day, end_day


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """{"csat": {"score": 80}} -> {"csat.score": 80}: one CSV row per metric."""
    if not isinstance(data, dict):
        return {prefix: data}
    out: dict[str, Any] = {}
    for key, value in data.items():
        out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def _csv(header: list[str], rows: list[list[Any]] | list[tuple[Any, ...]], name: str) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


class Refused(Exception):
    def __init__(self, response: JSONResponse):
        self.response = response


def _admin_period(request: Request, agent: Any, start: str | None, end: str | None) -> tuple[Any, date, date]:
    """The gateway state and the period asked for, for admins only (Refused: 403 / 422)."""
    if agent.role != "admin":
        raise Refused(error_response(403, "the analytics are for admins"))
    state = get_state(request)
    try:
        first, last = _period(state, start, end)
    except ValueError as exc:
        raise Refused(error_response(422, str(exc))) from exc
    return state, first, last


def _filters(*values: str | None) -> list[str | None]:
    return [v or None for v in values]


@router.get("/kpis")
async def kpis(request: Request, agent: Agent, start: str | None = None, end: str | None = None,
               channel: str | None = None, lang: str | None = None, reason: str | None = None,
               format: str = "json") -> Response:  # noqa: A002
    try:
        state, first, last = _admin_period(request, agent, start, end)
        data = await report.kpis(state.redis, first, last, *_filters(channel, lang, reason),
                                 as_of=state.clock() if state.clock else datetime.now())
    except Refused as refused:
        return refused.response
    except ValueError as exc:
        return error_response(422, str(exc))
    if format == "csv":
        return _csv(["metric", "value"], sorted(flatten(data).items()), f"kpis-{first}-{last}")
    return JSONResponse(data)


@router.get("/breakdown")
async def breakdown(request: Request, agent: Agent, dim: str = "reason", metric: str = "conv",
                    start: str | None = None, end: str | None = None, format: str = "json") -> Response:  # noqa: A002
    try:
        state, first, last = _admin_period(request, agent, start, end)
        data = await report.breakdown(state.redis, first, last, dim, metric)
    except Refused as refused:
        return refused.response
    except ValueError as exc:
        return error_response(422, str(exc))
    if format == "csv":
        return _csv([dim, metric], list(data.items()), f"{metric}-by-{dim}-{first}-{last}")
    return JSONResponse({"dim": dim, "metric": metric, "start": str(first), "end": str(last), "values": data})


DAILY_METRICS = ("conv", "conv_contained", "conv_handoff", "conv_ticket", "msg_in")


@router.get("/daily")
async def daily(request: Request, agent: Agent, start: str | None = None, end: str | None = None,
                channel: str | None = None, lang: str | None = None, reason: str | None = None,
                format: str = "json") -> Response:  # noqa: A002
    """Per-day volumes for the charts: conversations, contained, handed off, with a ticket."""
    try:
        state, first, last = _admin_period(request, agent, start, end)
        per_day = await report.counters(state.redis, report.day_range(first, last),
                                        *_filters(channel, lang, reason))
    except Refused as refused:
        return refused.response
    rows = [{"day": day.isoformat(), **{m: values.get(m, 0) for m in DAILY_METRICS}}
            for day, values in sorted(per_day.items())]
    if format == "csv":
        return _csv(["day", *DAILY_METRICS], [list(r.values()) for r in rows], f"daily-{first}-{last}")
    return JSONResponse({"start": str(first), "end": str(last), "days": rows})
