"""Calendar days as the shopper reads them: "mercredi 2 décembre", "Wednesday 2 December".

Weekday and month names come from babel's CLDR data rather than hand-written lists, so
every text that shows a day (opening hours, ticket deadlines, delivery dates) says it the
same way, in the shopper's language.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

from babel.dates import format_date

from kit.texts import norm_lang

PATTERN = "EEEE d MMMM"                      # CLDR: weekday, day, month (British order in English)
_FIRST_OF_MONTH = {"fr": "EEEE d'er' MMMM"}  # French writes the 1st as an ordinal: "1er juin"


@lru_cache(maxsize=1024)
def format_day(day: date, lang: str | None, *, today: date) -> str:
    """Weekday, day and month in the shopper's language; the year only when it is not `today`'s,
    so a date next January does not read as last January's (`today` in the shop's time zone).

    Cached: the bot names the next opening in most replies, and babel reads its locale data
    anew for every call (3 % of the gateway's CPU per turn, docs/profiles)."""
    code = norm_lang(lang)
    pattern = _FIRST_OF_MONTH.get(code, PATTERN) if day.day == 1 else PATTERN
    if day.year != today.year:
        pattern += " y"
    return format_date(day, pattern, locale=code)


def preload(langs: tuple[str, ...] = ("fr", "en")) -> None:
    """Read babel's calendar data now (a few hundred ms per language): at start-up, not in the
    first shopper's reply that names a day."""
    for code in langs:
        format_date(date.today(), PATTERN, locale=norm_lang(code))
