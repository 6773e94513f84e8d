"""Days in the shopper's language, from babel's CLDR names rather than hand-written lists."""

from __future__ import annotations

from datetime import date

import pytest

from kit.dates import format_day

TODAY = date(2026, 12, 5)


@pytest.mark.parametrize(("day", "fr", "en"), [
    (date(2026, 12, 2), "mercredi 2 décembre", "Wednesday 2 December"),
    (date(2026, 11, 30), "lundi 30 novembre", "Monday 30 November"),
    (date(2026, 6, 1), "lundi 1er juin", "Monday 1 June"),              # French ordinal for the 1st
    (date(2026, 2, 14), "samedi 14 février", "Saturday 14 February"),
    (date(2027, 1, 4), "lundi 4 janvier 2027", "Monday 4 January 2027"),  # another year: said
    (date(2025, 8, 1), "vendredi 1er août 2025", "Friday 1 August 2025"),
])
def test_weekday_day_month_and_year_only_when_not_this_year(day: date, fr: str, en: str) -> None:
    assert format_day(day, "fr", today=TODAY) == fr
    assert format_day(day, "en", today=TODAY) == en


def test_language_variants_and_french_fallback() -> None:
    assert format_day(date(2026, 12, 2), "en-GB", today=TODAY) == "Wednesday 2 December"
    assert format_day(date(2026, 12, 2), "fr_FR", today=TODAY) == "mercredi 2 décembre"
    assert format_day(date(2026, 12, 2), None, today=TODAY) == "mercredi 2 décembre"
