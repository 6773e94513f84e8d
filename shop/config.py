"""Shop settings from `config/shop.yml` (path overridable by `SHOP_CONFIG`).

Validation is strict on purpose: a typo in opening hours would make the bot promise
a human or a reply time the shop cannot keep. Every error names the file and the field.
"""

from __future__ import annotations

import math
import os
import re
import warnings
import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import holidays
import yaml

from .sources.settings import OrdersConfig, parse_orders

DEFAULT_PATH = Path("config/shop.yml")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = date.weekday()
MINUTES_PER_DAY = 24 * 60

_RANGE_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_REASON_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_-]*)?$")


@dataclass(frozen=True, order=True)
class TimeRange:
    """Opening range on a local wall clock, in minutes since midnight; end may be 1440 ("24:00")."""

    start: int
    end: int

    def __str__(self) -> str:
        return f"{_hhmm(self.start)}-{_hhmm(self.end)}"


@dataclass(frozen=True)
class Closure:
    """Days the shop is closed besides public holidays, inclusive."""

    start: date
    end: date
    label: str = ""

    def __contains__(self, day: date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True)
class HolidaysConfig:
    country: str | None = None  # None: no public holidays at all
    subdiv: str | None = None


@dataclass(frozen=True)
class HoursConfig:
    timezone: str
    weekly: dict[int, tuple[TimeRange, ...]]  # weekday (0 = Monday) -> sorted, non-overlapping ranges
    holidays: HolidaysConfig = field(default_factory=HolidaysConfig)
    closures: tuple[Closure, ...] = ()


@dataclass(frozen=True)
class ShopInfo:
    name: str
    languages: tuple[str, ...]
    default_language: str


@dataclass(frozen=True)
class SlaConfig:
    ticket_reply_business_hours: float


def listed(reason: str, reasons: tuple[str, ...]) -> bool:
    """Is the contact reason, or its whole category (`returns` of `returns/exchange`), listed?"""
    return reason in reasons or reason.split("/", 1)[0] in reasons


@dataclass(frozen=True)
class ReasonsConfig:
    """How the dashboard places contact reasons on the value/irritant matrix (Price & Jaffe)."""

    high_value: tuple[str, ...] = ()     # reasons or categories worth a contact to the customer
    irritant_threshold: float = 25.0     # irritant index (%) from which a reason counts as irritant
    min_conversations: int = 20          # fewer in the period: placed, but flagged "few data"

    def value_of(self, reason: str) -> str:
        """"high" when the reason, or its category (`returns` of `returns/exchange`), is listed."""
        return "high" if listed(reason, self.high_value) else "low"


@dataclass(frozen=True)
class SurveysConfig:
    """Hot surveys in the chat and the cold NPS link."""

    ask_why: bool = True                 # after a score, ask "what is the main reason for your score?"
    ces_after_bot_answer: bool = True    # after a "yes, that helped", ask the effort score (once)
    nps_link_days: int = 30              # how long an e-mailed NPS link stays valid


@dataclass(frozen=True)
class RetentionConfig:
    """How long personal data is kept (days); a scheduled purge deletes what is older."""

    conversations_days: int = 365        # after the conversation's last message
    tickets_days: int = 730              # after a ticket is solved
    analytics_events_days: int = 400     # raw events (the anonymous day counters stay)
    survey_comments_days: int = 365


@dataclass(frozen=True)
class OrderLookupConfig:
    """Budgets of order lookups per window (shop/order_gate.py): against guessing numbers or proofs."""

    per_conversation: int = 5            # attempts in one conversation
    per_client: int = 10                 # from one web client address (or one Messenger/WhatsApp user)
    per_order: int = 10                  # on one order number, by anybody
    window_minutes: int = 60
    # after an FAQ answer on one of these contact reasons (or categories), the bot offers to
    # look the shopper's own order up: "where is my parcel?" gets the answer and the lookup
    offer_after: tuple[str, ...] = ()

    def offered_after(self, reason: str) -> bool:
        return bool(reason) and listed(reason, self.offer_after)


@dataclass(frozen=True)
class ShopConfig:
    shop: ShopInfo
    hours: HoursConfig
    sla: SlaConfig
    path: Path | None = None
    reasons: ReasonsConfig = field(default_factory=ReasonsConfig)
    surveys: SurveysConfig = field(default_factory=SurveysConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    order_lookups: OrderLookupConfig = field(default_factory=OrderLookupConfig)
    orders: OrdersConfig = field(default_factory=OrdersConfig)


def config_path() -> Path:
    return Path(os.environ.get("SHOP_CONFIG") or DEFAULT_PATH)


def load_shop_config(path: str | Path | None = None) -> ShopConfig:
    """Read and validate the shop file; raises ValueError naming the file and the field."""
    path = Path(path) if path else config_path()
    if not path.is_file():
        raise FileNotFoundError(f"{path}: shop config not found (set SHOP_CONFIG or create config/shop.yml)")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from exc
    return _Parser(path).config(data)


def parse_range(text: str) -> TimeRange:
    """'09:00-18:00' -> TimeRange; ValueError with a short reason otherwise."""
    match = _RANGE_RE.match(text) if isinstance(text, str) else None
    if not match:
        raise ValueError(
            f"malformed range {text!r} (expected 'HH:MM-HH:MM', 24-hour clock, e.g. '09:00-18:00')"
        )
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
        raise ValueError(f"malformed range {text!r} (hours 00-23, minutes 00-59; '24:00' only as an end)")
    rng = TimeRange(h1 * 60 + m1, h2 * 60 + m2)
    if rng.end <= rng.start:
        raise ValueError(
            f"range {text!r} ends before it starts (ranges cannot cross midnight: "
            f"split it into '..-24:00' and the next day's '00:00-..')"
        )
    return rng


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


class _Parser:
    """Turns the raw YAML mapping into ShopConfig, one error message per field."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, where: str, message: str) -> ValueError:
        return ValueError(f"{self.path}: {where}: {message}")

    def mapping(self, value: Any, where: str, known: set[str], required: set[str]) -> dict:
        if not isinstance(value, dict):
            raise self.error(where, f"must be a mapping with keys {sorted(known)}")
        keys = {str(k) for k in value}
        if unknown := keys - known:
            raise self.error(where, f"unknown keys {sorted(unknown)} (known: {sorted(known)})")
        if missing := required - keys:
            raise self.error(where, f"missing keys {sorted(missing)}")
        return {str(k): v for k, v in value.items()}

    def config(self, data: Any) -> ShopConfig:
        top = self.mapping(data, "(top level)",
                           {"shop", "hours", "sla", "contact_reasons", "surveys", "retention",
                            "order_lookups", "orders"},
                           {"shop", "hours", "sla"})
        return ShopConfig(self.shop(top["shop"]), self.hours(top["hours"]), self.sla(top["sla"]), self.path,
                          self.reasons(top.get("contact_reasons")), self.surveys(top.get("surveys")),
                          self.retention(top.get("retention")), self.order_lookups(top.get("order_lookups")),
                          parse_orders(top.get("orders"), self.error))

    def order_lookups(self, raw: Any) -> OrderLookupConfig:
        if raw is None:
            return OrderLookupConfig()
        section = self.mapping(raw, "order_lookups", set(OrderLookupConfig.__dataclass_fields__), set())
        offer = section.pop("offer_after", [])
        if not isinstance(offer, list) or not all(isinstance(r, str) and r for r in offer):
            raise self.error("order_lookups.offer_after", f"must be a list of contact reasons, got {offer!r}")
        for name, value in section.items():
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10000:
                raise self.error(f"order_lookups.{name}",
                                 f"must be a whole number from 1 to 10000, got {value!r}")
        return OrderLookupConfig(**section, offer_after=tuple(offer))

    def retention(self, raw: Any) -> RetentionConfig:
        if raw is None:
            return RetentionConfig()
        names = set(RetentionConfig.__dataclass_fields__)
        section = self.mapping(raw, "retention", names, set())
        values = {}
        for name, value in section.items():
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 3650:
                raise self.error(f"retention.{name}", f"must be a number of days (1-3650), got {value!r}")
            values[name] = value
        return RetentionConfig(**values)

    def reasons(self, raw: Any) -> ReasonsConfig:
        if raw is None:
            return ReasonsConfig()
        known = {"high_value", "irritant_threshold", "min_conversations"}
        section = self.mapping(raw, "contact_reasons", known, set())
        high = section.get("high_value") or []
        if not isinstance(high, list) or not all(isinstance(x, str) and _REASON_RE.match(x) for x in high):
            raise self.error("contact_reasons.high_value",
                             "must be a list of reasons ('returns/exchange') or categories "
                             f"('pre-purchase'), got {high!r}")
        threshold = section.get("irritant_threshold", 25.0)
        if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 < threshold < 100:
            raise self.error("contact_reasons.irritant_threshold",
                             f"must be a percentage between 0 and 100, got {threshold!r}")
        minimum = section.get("min_conversations", 20)
        if isinstance(minimum, bool) or not isinstance(minimum, int) or minimum < 0:
            raise self.error("contact_reasons.min_conversations",
                             f"must be a whole number >= 0, got {minimum!r}")
        return ReasonsConfig(tuple(high), float(threshold), minimum)

    def surveys(self, raw: Any) -> SurveysConfig:
        if raw is None:
            return SurveysConfig()
        section = self.mapping(raw, "surveys", {"ask_why", "ces_after_bot_answer", "nps_link_days"}, set())
        for name in ("ask_why", "ces_after_bot_answer"):
            if not isinstance(section.get(name, True), bool):
                raise self.error(f"surveys.{name}", f"must be true or false, got {section[name]!r}")
        days = section.get("nps_link_days", 30)
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 366:
            raise self.error("surveys.nps_link_days", f"must be a number of days (1-366), got {days!r}")
        return SurveysConfig(section.get("ask_why", True), section.get("ces_after_bot_answer", True), days)

    def shop(self, raw: Any) -> ShopInfo:
        keys = {"name", "languages", "default_language"}
        shop = self.mapping(raw, "shop", keys, keys)
        name = shop["name"]
        if not isinstance(name, str) or not name.strip():
            raise self.error("shop.name", "must be a non-empty string")
        langs = shop["languages"]
        if not isinstance(langs, list) or not langs or not all(isinstance(x, str) and x for x in langs):
            raise self.error("shop.languages", f"must be a non-empty list of language codes, got {langs!r}")
        default = shop["default_language"]
        if default not in langs:
            raise self.error("shop.default_language", f"{default!r} is not one of shop.languages {langs}")
        return ShopInfo(name.strip(), tuple(langs), default)

    def hours(self, raw: Any) -> HoursConfig:
        known = {"timezone", "weekly", "holidays", "closures"}
        hours = self.mapping(raw, "hours", known, {"timezone", "weekly"})
        return HoursConfig(
            timezone=self.timezone(hours["timezone"]),
            weekly=self.weekly(hours["weekly"]),
            holidays=self.holidays(hours.get("holidays")),
            closures=self.closures(hours.get("closures")),
        )

    def timezone(self, name: Any) -> str:
        if not isinstance(name, str) or not name:
            raise self.error("hours.timezone", f"must be an IANA name such as 'Europe/Paris', got {name!r}")
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            hint = "" if zoneinfo.available_timezones() else " (no time zone data here: pip install tzdata)"
            raise self.error(
                "hours.timezone", f"unknown time zone {name!r} (IANA name, e.g. 'Europe/Paris'){hint}"
            ) from None
        return name

    def weekly(self, raw: Any) -> dict[int, tuple[TimeRange, ...]]:
        if not isinstance(raw, dict):
            raise self.error("hours.weekly", f"must map weekdays {list(WEEKDAYS)} to lists of ranges")
        weekly: dict[int, tuple[TimeRange, ...]] = {i: () for i in range(7)}  # a missing day is closed
        for key, value in raw.items():
            day = str(key).lower()
            if day not in WEEKDAYS:
                raise self.error(f"hours.weekly.{key}", f"unknown weekday (use {', '.join(WEEKDAYS)})")
            weekly[WEEKDAYS.index(day)] = self.day_ranges(value, f"hours.weekly.{day}")
        return weekly

    def day_ranges(self, value: Any, where: str) -> tuple[TimeRange, ...]:
        items = [] if value is None else [value] if isinstance(value, str) else value
        if not isinstance(items, list):
            raise self.error(where, f"must be a list of 'HH:MM-HH:MM' ranges, got {value!r}")
        ranges = []
        for i, text in enumerate(items):
            try:
                ranges.append(parse_range(text))
            except ValueError as exc:
                raise self.error(f"{where}[{i}]", str(exc)) from None
        ranges.sort()
        for before, after in zip(ranges, ranges[1:], strict=False):
            if after.start < before.end:
                raise self.error(where, f"ranges {before} and {after} overlap")
        return tuple(ranges)

    def holidays(self, raw: Any) -> HolidaysConfig:
        if raw is None:
            return HolidaysConfig()
        cfg = self.mapping(raw, "hours.holidays", {"country", "subdiv"}, {"country"})
        country, subdiv = cfg["country"], cfg.get("subdiv")
        if country is None:
            if subdiv is not None:
                raise self.error("hours.holidays.subdiv", "set hours.holidays.country too")
            return HolidaysConfig()
        if not isinstance(country, str):
            raise self.error("hours.holidays.country", f"must be a country code like 'FR', got {country!r}")
        country = country.upper()
        if country not in holidays.list_supported_countries():
            raise self.error(
                "hours.holidays.country", f"unknown country {country!r} (ISO 3166 code known to `holidays`)"
            )
        subdiv = None if subdiv is None else str(subdiv)  # `67` unquoted in YAML is an int
        try:
            with warnings.catch_warnings():
                # Deprecated codes silently change meaning (e.g. FR "GES" no longer means Alsace-Moselle).
                warnings.simplefilter("error", DeprecationWarning)
                holidays.country_holidays(country, subdiv=subdiv)
        except (NotImplementedError, DeprecationWarning) as exc:
            known = ", ".join(holidays.list_supported_countries()[country]) or "none"
            raise self.error(
                "hours.holidays.subdiv", f"{subdiv!r} is not usable for {country} ({exc}); supported: {known}"
            ) from None
        return HolidaysConfig(country, subdiv)

    def closures(self, raw: Any) -> tuple[Closure, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            raise self.error("hours.closures", "must be a list of dates or {from, to, label} mappings")
        closures = []
        for i, item in enumerate(raw):
            where = f"hours.closures[{i}]"
            if isinstance(item, dict):
                entry = self.mapping(item, where, {"from", "to", "label"}, {"from"})
                start = self.day(entry["from"], f"{where}.from")
                end = self.day(entry["to"], f"{where}.to") if entry.get("to") is not None else start
                label = entry.get("label") or ""
            else:
                start = end = self.day(item, where)
                label = ""
            if end < start:
                raise self.error(f"{where}.to", f"{end} is before 'from' {start}")
            closures.append(Closure(start, end, str(label)))
        return tuple(closures)

    def day(self, value: Any, where: str) -> date:
        if isinstance(value, datetime):
            raise self.error(where, f"expected a day (YYYY-MM-DD), not a date and time: {value!r}")
        if isinstance(value, date):  # unquoted YAML dates arrive already parsed
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            raise self.error(where, f"malformed date {value!r} (expected YYYY-MM-DD)") from None

    def sla(self, raw: Any) -> SlaConfig:
        sla = self.mapping(raw, "sla", {"ticket_reply_business_hours"}, {"ticket_reply_business_hours"})
        value = sla["ticket_reply_business_hours"]
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not math.isfinite(value) or value <= 0:
            raise self.error(
                "sla.ticket_reply_business_hours", f"must be a positive number of hours, got {value!r}"
            )
        return SlaConfig(float(value))
