"""Shared by the analytics tests: March 2026 in Paris and the shop's business hours."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from shop.config import HoursConfig, TimeRange
from shop.hours import BusinessHours

PARIS = ZoneInfo("Europe/Paris")


def paris(d: int, h: int, mi: int = 0, s: int = 0) -> datetime:
    """March 2026 in Paris: the 2nd is a Monday, the 6th a Friday."""
    return datetime(2026, 3, d, h, mi, s, tzinfo=PARIS)


def business_hours() -> BusinessHours:
    weekly = {d: (TimeRange(9 * 60, 18 * 60),) for d in range(5)}
    return BusinessHours(HoursConfig(timezone="Europe/Paris", weekly=weekly), sla_hours=8)


