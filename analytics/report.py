"""KPI reports read from the pre-aggregated day counters only.

Cost is O(days x metrics) field reads, summed inside Redis a month at a time (plus the few tickets
currently overdue), whatever the number of raw events: the event stream is never scanned here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import redis.asyncio as aioredis

from analytics.log import (
    DAY,
    DIM,
    META,
    SLA_PENDING,
    TICKET_FACTS,
    UNANSWERED,
    VARIANTS,
    VERBATIMS,
    day_range,
)
from analytics.rollups import ALL, NONE, field_for
from kit.redis import text
from shop.config import ReasonsConfig

from . import matrix as reason_matrix
from .ab import DEFAULT_VARIANT
from .kpi import FCR_WINDOW, Kpis, all_metric_names, containment, low_data, percent, two_proportion_test

MAX_DAYS = 3 * 366
METRICS = all_metric_names()
FCR_METRICS = [m for m in METRICS if m.startswith("fcr_")]     # counted once a day's 7-day windows closed
SUMMED_METRICS = [m for m in METRICS if m not in FCR_METRICS]
SUM_CHUNK_DAYS = 31   # one server-side sum covers at most a month: Redis is never busy for long

# Sum the same fields over several hashes inside Redis: a year of counters travels as one number
# per field instead of one per field and day (365x less to send and parse).
_SUM_FIELDS = """
local n = #ARGV
local acc = {}
for i = 1, n do acc[i] = 0 end
for k = 1, #KEYS do
  local values = redis.call('HMGET', KEYS[k], unpack(ARGV))
  for i = 1, n do
    if values[i] then acc[i] = acc[i] + tonumber(values[i]) end
  end
end
for i = 1, n do acc[i] = tostring(acc[i]) end
return acc
"""
# Sum every field of several hashes (A/B counters: the fields are not known in advance).
_SUM_HASHES = """
local acc, order = {}, {}
for k = 1, #KEYS do
  local flat = redis.call('HGETALL', KEYS[k])
  for i = 1, #flat, 2 do
    local f = flat[i]
    if acc[f] == nil then acc[f] = 0; order[#order + 1] = f end
    acc[f] = acc[f] + tonumber(flat[i + 1])
  end
end
local out = {}
for _, f in ipairs(order) do out[#out + 1] = f; out[#out + 1] = tostring(acc[f]) end
return out
"""


def _chunks(days: list[date]) -> list[list[date]]:
    return [days[i:i + SUM_CHUNK_DAYS] for i in range(0, len(days), SUM_CHUNK_DAYS)]


async def sum_fields(redis: aioredis.Redis, key: str, days: list[date], fields: list[str]) -> list[float]:
    """`fields` of the `key.format(day=...)` hashes summed over `days`, server-side, a month per call."""
    if not fields or not days:
        return [0.0] * len(fields)
    total = [0.0] * len(fields)
    for chunk in _chunks(days):
        keys = [key.format(day=d.isoformat()) for d in chunk]
        values = await redis.eval(_SUM_FIELDS, len(keys), *keys, *fields)
        total = [t + float(text(v)) for t, v in zip(total, values, strict=True)]
    return total


async def sum_hashes(redis: aioredis.Redis, key: str, days: list[date]) -> dict[str, float]:
    """Every field of the `key.format(day=...)` hashes summed over `days`, server-side."""
    total: dict[str, float] = {}
    for chunk in _chunks(days):
        keys = [key.format(day=d.isoformat()) for d in chunk]
        flat = await redis.eval(_SUM_HASHES, len(keys), *keys)
        for name, value in zip(flat[::2], flat[1::2], strict=True):
            total[text(name)] = total.get(text(name), 0.0) + float(text(value))
    return total


def _as_date(value: date | str) -> date:
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else date.fromisoformat(value)


async def _tz(redis: aioredis.Redis) -> tzinfo:
    name = await redis.hget(META, "tz")
    return ZoneInfo(text(name)) if name and text(name) != "UTC" else UTC


def fcr_settled(day: date, as_of: datetime, tz: tzinfo) -> bool:
    """True when every contact of `day` has had its full 7-day window before `as_of`."""
    end_of_day = datetime.combine(day + timedelta(days=1), time(), tz)
    return as_of >= end_of_day + FCR_WINDOW


def _reason_matches(reason: str, wanted: str | None) -> bool:
    if not wanted:
        return True
    if wanted.endswith("/*") or "/" not in wanted:
        return reason.split("/", 1)[0] == wanted.removesuffix("/*")
    return reason == wanted


async def _overdue(redis: aioredis.Redis, days: set[str], now: float, channel: str | None,
                   lang: str | None, reason: str | None) -> int:
    """Tickets still unanswered past their due date, created on one of `days`, matching the filters."""
    overdue = [text(t) for t in await redis.zrangebyscore(SLA_PENDING, "-inf", f"({now}")]
    if not overdue:
        return 0
    pipe = redis.pipeline(transaction=False)
    for tid in overdue:
        pipe.hmget(TICKET_FACTS.format(tid=tid), ["day", "channel", "lang", "reason"])
    count = 0
    for row in await pipe.execute():
        day, ch, lg, rs = (text(v) if v is not None else "" for v in row)
        if day in days and (not channel or ch == channel) and (not lang or lg == lang) \
                and _reason_matches(rs, reason):
            count += 1
    return count


async def counters(redis: aioredis.Redis, days: Iterable[date], channel: str | None = None,
                   lang: str | None = None, reason: str | None = None,
                   metrics: Iterable[str] = METRICS) -> dict[date, dict[str, float]]:
    """Per day, metric -> value under the filters (missing metrics omitted); only `metrics`."""
    days = list(days)
    metrics = list(metrics)
    fields = [field_for(m, channel, lang, reason) for m in metrics]
    pipe = redis.pipeline(transaction=False)
    for day in days:
        pipe.hmget(DAY.format(day=day.isoformat()), fields)
    out: dict[date, dict[str, float]] = {}
    for day, values in zip(days, await pipe.execute(), strict=True):
        out[day] = {m: float(text(v)) for m, v in zip(metrics, values, strict=True) if v is not None}
    return out


async def kpis(redis: aioredis.Redis, start_date: date | str, end_date: date | str,
               channel: str | None = None, lang: str | None = None, reason: str | None = None, *,
               as_of: datetime | None = None) -> dict[str, Any]:
    """Dashboard KPIs for the days start_date..end_date (inclusive, shop-local days) and filters
    (None = all; `reason` a leaf 'returns/exchange' or a category 'returns').

    Conversations count on the day the shopper first wrote, tickets on their creation day. FCR only
    counts days whose contacts' 7-day windows have all closed by `as_of` (default now); the others
    are reported as `fcr.pending_days`. Unanswered tickets past their deadline count as SLA misses.
    """
    start, end = _as_date(start_date), _as_date(end_date)
    days = day_range(start, end)
    if len(days) > MAX_DAYS:
        raise ValueError(f"period too long: {len(days)} days (max {MAX_DAYS})")
    now = as_of or datetime.now(UTC)
    tz = await _tz(redis)
    settled = [d for d in days if fcr_settled(d, now, tz)]
    # summed inside Redis (one number per metric), FCR over the settled days only
    total: dict[str, float] = {}
    for metrics, over in ((SUMMED_METRICS, days), (FCR_METRICS, settled)):
        sums = await sum_fields(redis, DAY, over, [field_for(m, channel, lang, reason) for m in metrics])
        total.update((m, v) for m, v in zip(metrics, sums, strict=True) if v)
    overdue = await _overdue(redis, {d.isoformat() for d in days}, now.timestamp(), channel, lang, reason)
    result = Kpis(total, overdue_open=overdue).as_dict()
    result["fcr"]["settled_until"] = settled[-1].isoformat() if settled else None
    result["fcr"]["pending_days"] = len(days) - len(settled)
    result["period"] = {"start": start.isoformat(), "end": end.isoformat(), "days": len(days), "tz": str(tz)}
    result["filters"] = {"channel": channel, "lang": lang, "reason": reason}
    return result


async def breakdown(redis: aioredis.Redis, start_date: date | str, end_date: date | str, dim: str,
                    metric: str = "conv", *, channel: str | None = None, lang: str | None = None,
                    reason: str | None = None) -> dict[str, float]:
    """`metric` summed over the period for each value of `dim` (channel | lang | reason) seen so
    far, largest first - e.g. top contact reasons: breakdown(r, a, b, "reason")."""
    if dim not in ("channel", "lang", "reason"):
        raise ValueError(f"dim must be channel, lang or reason, got {dim!r}")
    values = sorted(text(v) for v in await redis.smembers(DIM.format(dim=dim)))
    days = day_range(_as_date(start_date), _as_date(end_date))
    filters = {"channel": channel, "lang": lang, "reason": reason}
    fields = [field_for(metric, **{**filters, dim: v}) for v in values]
    if dim == "reason":  # exact reasons, not the 'category/*' roll-up field_for makes of a bare name
        fields = [f.rsplit("|", 1)[0] + "|" + v for f, v in zip(fields, values, strict=True)]
    pipe = redis.pipeline(transaction=False)
    for day in days:
        if fields:
            pipe.hmget(DAY.format(day=day.isoformat()), fields)
    sums = dict.fromkeys(values, 0.0)
    for row in (await pipe.execute()) if fields else []:
        for value, raw in zip(values, row, strict=True):
            if raw is not None:
                sums[value] += float(text(raw))
    return dict(sorted(((k, v) for k, v in sums.items() if v), key=lambda kv: (-kv[1], kv[0])))


VARIANT_STATS = ("shown", "up", "down", "conv", "contained")


def _variant_order(name: str) -> tuple[int, str]:
    return (name != DEFAULT_VARIANT, name)


def _ab_test(stats: dict[str, dict[str, int]], names: list[str], part: str,
             whole: str) -> dict[str, Any] | None:
    usable = [n for n in names if stats[n][whole] > 0]
    if len(usable) < 2:
        return None
    a, b = stats[usable[0]], stats[usable[1]]
    z, p = two_proportion_test(a[part], a[whole], b[part], b[whole])
    return {"a": usable[0], "b": usable[1], "z": z, "p_value": p, "significant": p is not None and p < 0.05}


async def variants(redis: aioredis.Redis, start_date: date | str, end_date: date | str,
                   entry: str | None = None) -> list[dict[str, Any]]:
    """A/B view of the FAQ entries that have answer variants (or of one `entry`): per variant the
    answers shown, thumbs up/down and up rate, conversations and containment, and two-proportion
    z-tests (thumbs-up rate, containment) between the first two variants ("default" first)."""
    days = day_range(_as_date(start_date), _as_date(end_date))
    stats: dict[str, dict[str, dict[str, int]]] = {}
    for key, value in (await sum_hashes(redis, VARIANTS, days)).items():
        name, variant, what = key.rsplit("|", 2)
        if (entry is None or name == entry) and what in VARIANT_STATS:
            per = stats.setdefault(name, {}).setdefault(variant, dict.fromkeys(VARIANT_STATS, 0))
            per[what] += int(value)
    out = []
    for name, per_variant in sorted(stats.items()):
        names = sorted((v for v in per_variant if v != NONE), key=_variant_order)
        if len(names) < 2 and entry is None:
            continue  # not an A/B test: one answer only
        for v in names:
            per_variant[v]["votes"] = per_variant[v]["up"] + per_variant[v]["down"]
        rows = {v: {**per_variant[v], "up_rate": percent(per_variant[v]["up"], per_variant[v]["votes"]),
                    "low_data": low_data(per_variant[v]["votes"]),
                    "containment": containment(per_variant[v]["contained"], per_variant[v]["conv"])}
                for v in names}
        out.append({"entry": name, "variants": rows,
                    "thumbs_test": _ab_test(per_variant, names, "up", "votes"),
                    "containment_test": _ab_test(per_variant, names, "contained", "conv")})
    return out


NO_HEALTH = {"shown": 0, "up": 0, "down": 0, "suggest": 0, "thumbs_down": 0}   # an entry nobody saw


async def entry_health(redis: aioredis.Redis, start_date: date | str, end_date: date | str
                       ) -> dict[str, dict[str, int]]:
    """Per FAQ entry over the period: answers shown, thumbs up and down (all variants), and the
    questions it left unanswered by kind (`suggest`: offered but not clicked, `thumbs_down`)."""
    days = day_range(_as_date(start_date), _as_date(end_date))
    out: dict[str, dict[str, int]] = {}
    for key, value in (await sum_hashes(redis, VARIANTS, days)).items():
        name, _, what = key.rsplit("|", 2)
        if what in ("shown", "up", "down"):
            out.setdefault(name, dict(NO_HEALTH))[what] += int(value)
    for row in await unanswered(redis, start_date, end_date):
        entry, why = str(row.get("entry") or ""), str(row.get("why") or "")
        if entry and why in ("suggest", "thumbs_down"):
            out.setdefault(entry, dict(NO_HEALTH))[why] += 1
    return out


async def reason_counts(redis: aioredis.Redis, days: list[date], names: Iterable[str] = reason_matrix.COUNTERS
                        ) -> dict[str, dict[str, float]]:
    """Per contact reason seen (leaves), the `names` counters summed over `days` (in Redis)."""
    reasons = sorted(text(v) for v in await redis.smembers(DIM.format(dim="reason")))
    names = list(names)
    fields = [f"{m}|{ALL}|{ALL}|{r}" for r in reasons for m in names]
    totals = await sum_fields(redis, DAY, days, fields)
    out = {r: dict.fromkeys(names, 0.0) for r in reasons}
    for i, value in enumerate(totals):
        out[reasons[i // len(names)]][names[i % len(names)]] = value
    return out


def previous_period(start: date, end: date) -> list[date]:
    """The period of the same length just before start..end (what trends compare with)."""
    length = (end - start).days + 1
    return day_range(start - timedelta(days=length), start - timedelta(days=1))


async def reasons(redis: aioredis.Redis, start_date: date | str, end_date: date | str,
                  rules: ReasonsConfig) -> list[dict[str, Any]]:
    """The contact-reason view: per reason volume, containment, bot resolution, CSAT, trend against
    the previous period of the same length (only when that period has conversations at all), and
    its place on the value/irritant matrix with the action."""
    return (await reasons_with_previous(redis, start_date, end_date, rules))[0]


async def reasons_with_previous(redis: aioredis.Redis, start_date: date | str, end_date: date | str,
                                rules: ReasonsConfig) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """`reasons` and the previous period it compared with: {start, end, conversations}."""
    start, end = _as_date(start_date), _as_date(end_date)
    days = day_range(start, end)
    if len(days) > MAX_DAYS:
        raise ValueError(f"period too long: {len(days)} days (max {MAX_DAYS})")
    before = previous_period(start, end)
    current = await reason_counts(redis, days)
    [conversations] = await sum_fields(redis, DAY, before, [f"conv|{ALL}|{ALL}|{ALL}"])
    previous = await reason_counts(redis, before, ("conv",)) if conversations else None
    info = {"start": before[0].isoformat(), "end": before[-1].isoformat(),
            "conversations": int(conversations)}
    return reason_matrix.matrix(current, rules, previous), info


async def unanswered(redis: aioredis.Redis, start_date: date | str, end_date: date | str
                     ) -> list[dict[str, Any]]:
    """What the FAQ missed in the period (oldest first): {q, why, lang, reason, entry, at}."""
    days = day_range(_as_date(start_date), _as_date(end_date))
    pipe = redis.pipeline(transaction=False)
    for day in days:
        pipe.hvals(UNANSWERED.format(day=day.isoformat()))
    rows = [json.loads(text(v)) for values in await pipe.execute() for v in values]
    return sorted(rows, key=lambda r: r.get("at", 0))


async def verbatims(redis: aioredis.Redis, start_date: date | str, end_date: date | str, *,
                    tz: tzinfo | None = None, reason: str | None = None, survey: str | None = None,
                    limit: int = 500) -> list[dict[str, Any]]:
    """Survey "why" answers of the period (newest first, PII already masked), optionally of one
    reason or category and one survey."""
    zone = tz or await _tz(redis)
    low = datetime.combine(_as_date(start_date), time(), zone).timestamp()
    high = datetime.combine(_as_date(end_date) + timedelta(days=1), time(), zone).timestamp()
    out = []
    for raw in await redis.zrevrangebyscore(VERBATIMS, f"({high}", low):
        row = json.loads(text(raw))
        if (survey and row["survey"] != survey) or not _reason_matches(row.get("reason", ""), reason):
            continue
        row.pop("customer", None)  # a pseudonym: not for the dashboard
        out.append(row)
        if len(out) >= limit:
            break
    return out


__all__ = ["ALL", "breakdown", "counters", "fcr_settled", "kpis", "previous_period", "reason_counts",
           "reasons", "reasons_with_previous", "unanswered", "variants", "verbatims"]
