"""Business hours: when humans are online and when a promised reply is due.

The bot only offers a human when agents are actually there, and ticket promises
("we reply within 8 business hours") are computed from the real calendar: weekly
ranges on the shop's wall clock, public holidays, custom closures.

All arithmetic runs on UTC instants, never on local wall-clock datetimes: Python
subtracts two datetimes sharing a tzinfo as naive wall-clock values, which is off
by an hour across a DST change. Results are returned in the shop's time zone.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import holidays

from kit import texts
from kit.dates import format_day
from shop.config import HoursConfig, ShopConfig, load_shop_config

Lang = Literal["fr", "en"]
LOOKAHEAD_DAYS = 370  # "about a year": enough to skip any sane closure, bounded if the shop never opens
ONE_DAY = timedelta(days=1)
Interval = tuple[datetime, datetime]  # UTC, start < end

class BusinessHours:
    """Opening calendar of the customer service, in the shop's time zone."""

    def __init__(self, hours: HoursConfig, *, sla_hours: float | None = None) -> None:
        self.tz = ZoneInfo(hours.timezone)
        self.sla_hours = sla_hours
        self._weekly = hours.weekly
        self._closures = hours.closures
        self._country = hours.holidays.country
        self._subdiv = hours.holidays.subdiv
        self._holidays_of_year = cache(self._load_holidays)  # per instance, any year on demand
        # day -> extra (start, end) minutes on the wall clock: a manager opened chats outside the
        # calendar (shop.opening_exceptions keeps them in Redis and sets them here)
        self._extra: dict[date, tuple[int, int]] = {}

    def set_extra_openings(self, extra: dict[date, tuple[int, int]]) -> None:
        """Openings added to the calendar for some days (they win over closures and holidays)."""
        self._extra = dict(extra)

    @classmethod
    def from_shop_config(cls, config: ShopConfig) -> BusinessHours:
        return cls(config.hours, sla_hours=config.sla.ticket_reply_business_hours)

    # -- questions ----------------------------------------------------------------------------------
    def is_open(self, at: datetime) -> bool:
        """True when agents are scheduled to be online at this instant."""
        return self._containing(at) is not None

    def next_opening(self, at: datetime) -> datetime | None:
        """`at` itself if open, else the next opening; None if nothing opens within about a year."""
        t = _utc(at, "at")
        for start, _end in self._intervals(t):
            return max(start, t).astimezone(self.tz)
        return None

    def closes_at(self, at: datetime) -> datetime | None:
        """End of the opening that contains `at` (back-to-back ranges count as one); None when closed.

        Also None for a service that never closes within about a year (24/7).
        """
        t = _utc(at, "at")
        end: datetime | None = None
        for start, stop in self._intervals(t):
            if end is not None and start > end:
                break
            if end is None and start > t:
                return None  # closed now
            if stop - t > timedelta(days=LOOKAHEAD_DAYS):
                return None
            end = stop
        return None if end is None else end.astimezone(self.tz)

    def add_business_hours(self, start: datetime, hours: float) -> datetime:
        """Earliest instant by which `hours` of open time have elapsed since `start` (SLA deadline)."""
        t = _utc(start, "start")
        if not math.isfinite(hours) or hours < 0:
            raise ValueError(f"hours must be a finite number >= 0, got {hours!r}")
        remaining = timedelta(hours=hours)
        if not remaining:
            return t.astimezone(self.tz)
        for begin, end in self._intervals(t):
            begin = max(begin, t)
            if end - begin >= remaining:
                return (begin + remaining).astimezone(self.tz)
            remaining -= end - begin
        raise ValueError(f"no opening hours within {LOOKAHEAD_DAYS} days after {t.astimezone(self.tz)}")

    def business_hours_between(self, start: datetime, end: datetime) -> float:
        """Open time between two instants, in hours (negative if `end` is before `start`)."""
        a, b = _utc(start, "start"), _utc(end, "end")
        if b < a:
            return -self.business_hours_between(end, start)
        total = timedelta()
        for begin, stop in self._intervals(a, until=b):
            if begin >= b:
                break
            total += min(stop, b) - max(begin, a)
        return total.total_seconds() / 3600

    def sla_deadline(self, at: datetime, hours: float | None = None) -> datetime:
        """Reply deadline for a ticket created at `at` (default: the configured SLA)."""
        hours = self.sla_hours if hours is None else hours
        if hours is None:
            raise ValueError("no SLA configured: pass hours or build from the shop config")
        return self.add_business_hours(at, hours)

    # -- human text -----------------------------------------------------------------------------------
    def describe_next_opening(self, at: datetime, lang: Lang = "fr") -> str | None:
        """'lundi 30 novembre à 9:00' / 'tomorrow at 9:00'; None if nothing opens within a year."""
        opening = self.next_opening(at)
        return None if opening is None else self.describe(opening, lang, now=at)

    def describe_deadline(self, at: datetime, lang: Lang = "fr", hours: float | None = None) -> str:
        """The SLA deadline of a ticket created at `at`, worded like describe_next_opening."""
        return self.describe(self.sla_deadline(at, hours), lang, now=at)

    def describe(self, when: datetime, lang: Lang = "fr", *, now: datetime) -> str:
        """`when` in shop time: 'today/tomorrow at H:MM' relative to `now`, else weekday + date.

        The words come from the locale catalogue (`hours.*`) and the day from babel, so the
        shopper reads the same wording here as in every other date the bot gives.
        """
        code = _norm_lang(lang)
        local = _utc(when, "when").astimezone(self.tz)
        today = self.day_of(now)
        clock = f"{local.hour}:{local.minute:02d}"
        if local.date() == today:
            day = texts.text(code, "hours.today")
        elif local.date() == today + ONE_DAY:
            day = texts.text(code, "hours.tomorrow")
        else:
            day = format_day(local.date(), code, today=today)
        return texts.text(code, "hours.day_at", day=day, time=clock)

    def day_of(self, at: datetime) -> date:
        """The shop's calendar day at an instant ("today" for the shop, not for the server)."""
        return _utc(at, "at").astimezone(self.tz).date()

    # -- calendar -----------------------------------------------------------------------------------
    def is_closed_day(self, day: date) -> bool:
        """Public holiday or custom closure (the weekly hours are not looked at)."""
        if any(day in closure for closure in self._closures):
            return True
        return self._country is not None and day in self._holidays_of_year(day.year)

    def _load_holidays(self, year: int) -> holidays.HolidayBase:
        return holidays.country_holidays(self._country, subdiv=self._subdiv, years=year)

    def _containing(self, at: datetime) -> Interval | None:
        t = _utc(at, "at")
        for start, end in self._intervals(t):
            return (start, end) if start <= t else None
        return None

    def _day_intervals(self, day: date) -> list[Interval]:
        weekly = self._weekly.get(day.weekday(), ())
        ranges = [] if self.is_closed_day(day) else [(r.start, r.end) for r in weekly]
        if day in self._extra:
            ranges = _union([*ranges, self._extra[day]])
        return [(self._instant(day, start, end=False), self._instant(day, end, end=True))
                for start, end in ranges]

    def _instant(self, day: date, minute: int, *, end: bool) -> datetime:
        """A wall-clock minute of `day` as a UTC instant.

        In the spring-forward gap the time moves later by the gap, like the clock does
        (zoneinfo fold=0). In the repeated autumn hour a start takes the first occurrence
        and an end the second, so the range covers the whole wall-clock span.
        """
        naive = datetime.combine(day, time()) + timedelta(minutes=minute)
        local = naive.replace(tzinfo=self.tz)
        if end:
            second = local.replace(fold=1)
            exists = local.astimezone(UTC).astimezone(self.tz).replace(tzinfo=None) == naive
            if exists and second.utcoffset() != local.utcoffset():
                local = second
        return local.astimezone(UTC)

    def _intervals(self, after: datetime, until: datetime | None = None) -> Iterator[Interval]:
        """Opening intervals ending after `after`, in order, never overlapping (UTC).

        Stops past `until`, or, when unbounded, after LOOKAHEAD_DAYS days in a row without any.
        """
        if not any(self._weekly.values()) and not self._extra:
            return
        day = after.astimezone(self.tz).date() - ONE_DAY  # start early: DST shifts may cross midnight
        last_day = None if until is None else until.astimezone(self.tz).date() + ONE_DAY
        idle = 0
        previous_end: datetime | None = None
        while idle <= LOOKAHEAD_DAYS if last_day is None else day <= last_day:
            found = False
            for start, end in self._day_intervals(day):
                if previous_end is not None:
                    start = max(start, previous_end)  # odd zones: a DST change at midnight
                if end > start and end > after:
                    found = True
                    previous_end = end
                    yield start, end
            idle = 0 if found else idle + 1
            day += ONE_DAY


def _union(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Minute ranges merged where they overlap or touch, in order."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def from_config(path: str | Path | None = None) -> BusinessHours:
    """BusinessHours of the shop file (`SHOP_CONFIG`, default `config/shop.yml`)."""
    return BusinessHours.from_shop_config(load_shop_config(path))


def _utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (e.g. datetime.now(UTC)), got naive {value}")
    return value.astimezone(UTC)


def _norm_lang(lang: str) -> str:
    """"en-GB", "fr_FR" -> "en", "fr"; a language the catalogue lacks is an error, not French."""
    code = lang.lower().replace("_", "-").split("-")[0]
    if code not in texts.LANGS:
        raise ValueError(f"unsupported language {lang!r} (supported: {', '.join(texts.LANGS)})")
    return code
