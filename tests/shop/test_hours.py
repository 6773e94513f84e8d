"""Business hours and SLA deadlines on the real `holidays` calendar (no network, no sleeping)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from kit import texts
from shop.config import load_shop_config
from shop.hours import BusinessHours, from_config

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "config" / "shop.yml"
BASE: dict[str, Any] = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
pytestmark = pytest.mark.timeout(60)


def paris(y: int, m: int, d: int, hh: int = 0, mm: int = 0, fold: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=ZoneInfo("Europe/Paris"), fold=fold)


def write_config(tmp_path: Path, edit: Callable[[dict], Any] | None = None, **weekly: list[str]) -> Path:
    """The shipped config, with some weekdays replaced and an optional in-place edit."""
    data = copy.deepcopy(BASE)
    data["hours"]["weekly"].update(weekly)
    if edit:
        edit(data)
    path = tmp_path / "shop.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def hours_with(tmp_path: Path, edit: Callable[[dict], Any] | None = None, **weekly: list[str]
               ) -> BusinessHours:
    return from_config(write_config(tmp_path, edit, **weekly))


def always_open(data: dict) -> None:
    data["hours"]["weekly"] = {day: ["00:00-24:00"] for day in WEEKDAYS}
    data["hours"]["holidays"] = {"country": None}
    data["hours"]["closures"] = []


@pytest.fixture(scope="module")
def bh() -> BusinessHours:
    """The demo shop: Mon-Fri 09:00-18:00 Paris, French holidays, closed 2026-12-24, SLA 8 h."""
    return from_config(SHIPPED)


# -- config ---------------------------------------------------------------------------------------------
def test_shipped_config_matches_the_demo_shop() -> None:
    config = load_shop_config(SHIPPED)
    assert config.shop.name == "Atelier Lumen"
    assert config.shop.languages == ("fr", "en") and config.shop.default_language == "fr"
    assert config.hours.timezone == "Europe/Paris"
    assert [str(r) for r in config.hours.weekly[0]] == ["09:00-18:00"]
    assert config.hours.weekly[5] == config.hours.weekly[6] == ()
    assert (config.hours.holidays.country, config.hours.holidays.subdiv) == ("FR", None)
    assert [(c.start, c.end) for c in config.hours.closures] == [(date(2026, 12, 24), date(2026, 12, 24))]
    assert config.sla.ticket_reply_business_hours == 8.0


def test_path_comes_from_shop_config_env_else_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    custom = write_config(tmp_path, lambda d: d["shop"].update(name="Other shop"))
    monkeypatch.setenv("SHOP_CONFIG", str(custom))
    assert load_shop_config().shop.name == "Other shop"
    assert from_config().is_open(paris(2026, 11, 30, 10))
    monkeypatch.delenv("SHOP_CONFIG")
    monkeypatch.chdir(ROOT)
    assert load_shop_config().path == Path("config/shop.yml")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    with pytest.raises(FileNotFoundError, match="config/shop.yml"):
        load_shop_config()


def _set(*keys: str, value: Any) -> Callable[[dict], None]:
    def edit(data: dict) -> None:
        node = data
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value

    return edit


def _day(day: str, *ranges: str) -> Callable[[dict], None]:
    return _set("hours", "weekly", day, value=list(ranges))


@pytest.mark.parametrize(
    ("edit", "field", "message"),
    [
        (_day("monday", "09:00-18:00"), "hours.weekly.monday", "unknown weekday"),
        (_day("mon", "9h-18h"), "hours.weekly.mon[0]", "malformed range '9h-18h'"),
        (_day("mon", "09:00-25:00"), "hours.weekly.mon[0]", "malformed range"),
        (_day("tue", "18:00-09:00"), "hours.weekly.tue[0]", "ends before it starts"),
        (_day("tue", "09:00-09:00"), "hours.weekly.tue[0]", "ends before it starts"),
        (_day("wed", "12:00-18:00", "09:00-13:00"), "hours.weekly.wed",
         "09:00-13:00 and 12:00-18:00 overlap"),
        (_set("hours", "timezone", value="Europe/Pariss"), "hours.timezone", "unknown time zone 'Europe/Pa"),
        (_set("hours", "holidays", "country", value="XX"), "hours.holidays.country", "unknown country 'XX'"),
        (_set("hours", "holidays", "subdiv", value="99"), "hours.holidays.subdiv", "'99' is not usable"),
        # Deprecated codes silently change meaning in `holidays` ("GES" used to add Alsace-Moselle days).
        (_set("hours", "holidays", "subdiv", value="GES"), "hours.holidays.subdiv", "deprecated"),
        (_set("hours", "closures", value=[{"from": "2026-12-24", "to": "2026-12-20"}]),
         "hours.closures[0].to", "before"),
        (_set("hours", "closures", value=[{"from": "24/12"}]), "hours.closures[0].from", "malformed date"),
        (_set("hours", "closure", value=[]), "hours", "unknown keys ['closure']"),
        (_set("sla", "ticket_reply_business_hours", value=0), "sla.ticket_reply_business_hours", "positive"),
        (_set("shop", "default_language", value="de"), "shop.default_language", "'de' is not one of"),
    ],
)
def test_config_errors_name_file_and_field(tmp_path: Path, edit: Callable, field: str, message: str) -> None:
    path = write_config(tmp_path, edit)
    with pytest.raises(ValueError) as err:
        load_shop_config(path)
    assert str(err.value).startswith(f"{path}: {field}: "), str(err.value)
    assert message in str(err.value)


def test_config_accepts_plain_dates_touching_ranges_and_missing_days(tmp_path: Path) -> None:
    def edit(data: dict) -> None:
        del data["hours"]["weekly"]["sun"]
        data["hours"]["closures"] = [date(2027, 8, 9), {"from": date(2027, 8, 16), "to": date(2027, 8, 20)}]

    path = write_config(tmp_path, edit, mon=["12:00-14:00", "09:00-12:00"])
    config = load_shop_config(path)
    assert [str(r) for r in config.hours.weekly[0]] == ["09:00-12:00", "12:00-14:00"]  # sorted
    assert config.hours.weekly[6] == ()
    assert [(c.start, c.end) for c in config.hours.closures] == [
        (date(2027, 8, 9), date(2027, 8, 9)), (date(2027, 8, 16), date(2027, 8, 20))]


# -- is_open ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (paris(2026, 11, 30, 9), True),  # Monday opening minute
        (paris(2026, 11, 30, 8, 59), False),
        (paris(2026, 11, 30, 17, 59), True),
        (paris(2026, 11, 30, 18), False),  # closing time is closed
        (paris(2026, 11, 28, 12), False),  # Saturday
        (paris(2026, 11, 29, 12), False),  # Sunday
        (paris(2026, 5, 1, 12), False),  # Labour Day (Friday)
        (paris(2026, 4, 6, 12), False),  # Easter Monday
        (paris(2026, 4, 7, 12), True),
        (paris(2026, 12, 25, 12), False),  # Christmas
        (paris(2026, 12, 24, 12), False),  # custom closure
        (paris(2026, 12, 23, 12), True),
        (paris(2040, 12, 25, 12), False),  # holidays of any year, loaded on demand
        (paris(2040, 12, 24, 12), True),  # the 2026 closure does not repeat
        (paris(2026, 1, 1, 12), False),
    ],
)
def test_is_open(bh: BusinessHours, at: datetime, expected: bool) -> None:
    assert bh.is_open(at) is expected


def test_is_open_converts_other_time_zones(bh: BusinessHours) -> None:
    assert bh.is_open(datetime(2026, 11, 30, 8, 30, tzinfo=UTC))  # 09:30 CET
    assert not bh.is_open(datetime(2026, 11, 30, 7, 30, tzinfo=UTC))  # 08:30 CET
    assert bh.is_open(datetime(2026, 7, 1, 7, 30, tzinfo=UTC))  # 09:30 CEST
    assert not bh.is_open(datetime(2026, 7, 1, 16, 30, tzinfo=UTC))  # 18:30 CEST


def test_regional_holidays(tmp_path: Path) -> None:
    good_friday, st_stephen = paris(2026, 4, 3, 12), paris(2025, 12, 26, 12)  # both Fridays
    national = from_config(SHIPPED)
    assert national.is_open(good_friday) and national.is_open(st_stephen)
    moselle = hours_with(tmp_path, _set("hours", "holidays", "subdiv", value=57))  # unquoted in YAML
    assert not moselle.is_open(good_friday) and not moselle.is_open(st_stephen)


# -- next opening / closing -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (paris(2026, 11, 30, 10, 15), paris(2026, 11, 30, 10, 15)),  # open now: `at` itself
        (paris(2026, 11, 30, 7), paris(2026, 11, 30, 9)),  # later today
        (paris(2026, 11, 27, 19), paris(2026, 11, 30, 9)),  # across the weekend
        (paris(2026, 11, 30, 18), paris(2026, 12, 1, 9)),  # closing time -> next day
        (paris(2026, 4, 3, 18), paris(2026, 4, 7, 9)),  # weekend + Easter Monday
        (paris(2026, 12, 23, 18), paris(2026, 12, 28, 9)),  # closure, Christmas, weekend
        (paris(2026, 12, 31, 18), paris(2027, 1, 4, 9)),  # New Year's Day of the next year
    ],
)
def test_next_opening(bh: BusinessHours, at: datetime, expected: datetime) -> None:
    opening = bh.next_opening(at)
    assert opening == expected and opening.tzinfo == expected.tzinfo


def test_next_opening_none_when_never_open(tmp_path: Path) -> None:
    never = hours_with(tmp_path, mon=[], tue=[], wed=[], thu=[], fri=[])
    assert never.next_opening(paris(2026, 11, 30, 10)) is None
    assert never.describe_next_opening(paris(2026, 11, 30, 10), "en") is None
    with pytest.raises(ValueError, match="no opening hours"):
        never.add_business_hours(paris(2026, 11, 30, 10), 1)
    assert never.business_hours_between(paris(2026, 1, 1), paris(2027, 1, 1)) == 0.0


def test_next_opening_looks_about_one_year_ahead(tmp_path: Path) -> None:
    def closed_until(end: str) -> Callable[[dict], None]:
        return _set("hours", "closures", value=[{"from": "2026-01-01", "to": end}])

    assert hours_with(tmp_path, closed_until("2026-12-15")).next_opening(paris(2026, 1, 1)) == paris(
        2026, 12, 16, 9)
    long_closed = hours_with(tmp_path, closed_until("2027-12-31"))
    assert long_closed.next_opening(paris(2026, 1, 1)) is None
    # but counting between two known instants is not limited
    assert long_closed.business_hours_between(paris(2026, 1, 1), paris(2028, 1, 3, 10)) == 1.0  # Mon 3 Jan


def test_closes_at(bh: BusinessHours) -> None:
    assert bh.closes_at(paris(2026, 11, 30, 10)) == paris(2026, 11, 30, 18)
    assert bh.closes_at(paris(2026, 11, 30, 9)) == paris(2026, 11, 30, 18)
    assert bh.closes_at(paris(2026, 11, 30, 18)) is None
    assert bh.closes_at(paris(2026, 11, 28, 12)) is None


def test_back_to_back_ranges_close_once(tmp_path: Path) -> None:
    late = hours_with(tmp_path, mon=["09:00-12:00", "12:00-24:00"], tue=["00:00-02:00", "09:00-18:00"])
    assert late.closes_at(paris(2026, 11, 30, 10)) == paris(2026, 12, 1, 2)
    assert late.is_open(paris(2026, 12, 1, 0)) and not late.is_open(paris(2026, 12, 1, 2))
    assert late.business_hours_between(paris(2026, 11, 30), paris(2026, 12, 2)) == 26.0


def test_always_open_never_closes(tmp_path: Path) -> None:
    service = hours_with(tmp_path, always_open)
    assert service.is_open(paris(2026, 12, 25, 3))
    assert service.closes_at(paris(2026, 12, 25, 3)) is None  # no closing within a year


def test_lunch_break(tmp_path: Path) -> None:
    split = hours_with(tmp_path, mon=["09:00-12:30", "14:00-18:00"])
    assert split.is_open(paris(2026, 11, 30, 12, 29))
    assert not split.is_open(paris(2026, 11, 30, 12, 30))
    assert not split.is_open(paris(2026, 11, 30, 13))
    assert split.is_open(paris(2026, 11, 30, 14))
    assert split.closes_at(paris(2026, 11, 30, 10)) == paris(2026, 11, 30, 12, 30)
    assert split.next_opening(paris(2026, 11, 30, 12, 45)) == paris(2026, 11, 30, 14)
    assert split.add_business_hours(paris(2026, 11, 30, 12), 1) == paris(2026, 11, 30, 14, 30)
    assert split.business_hours_between(paris(2026, 11, 30, 9), paris(2026, 11, 30, 18)) == 7.5
    assert split.describe_next_opening(paris(2026, 11, 30, 13), "fr") == "aujourd'hui à 14:00"


# -- SLA ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        (paris(2026, 11, 27, 19), 8, paris(2026, 11, 30, 17)),  # Friday evening -> Monday 17:00
        (paris(2026, 11, 30, 10), 8, paris(2026, 11, 30, 18)),  # fits exactly: closing time
        (paris(2026, 11, 30, 17), 8, paris(2026, 12, 1, 16)),  # 1 h today, 7 h tomorrow
        (paris(2026, 11, 28, 3), 8, paris(2026, 11, 30, 17)),  # Saturday night
        (paris(2026, 11, 30, 10), 0.5, paris(2026, 11, 30, 10, 30)),
        (paris(2026, 11, 30, 10), 24, paris(2026, 12, 2, 16)),  # several days
        (paris(2026, 12, 23, 17), 8, paris(2026, 12, 28, 16)),  # closure 24th, Christmas, weekend
        (paris(2026, 4, 3, 17), 8, paris(2026, 4, 7, 16)),  # weekend + Easter Monday
        (paris(2026, 11, 27, 19), 0, paris(2026, 11, 27, 19)),  # nothing to wait for
    ],
)
def test_add_business_hours(bh: BusinessHours, start: datetime, hours: float, expected: datetime) -> None:
    assert bh.add_business_hours(start, hours) == expected


def test_sla_deadline_uses_configured_hours(bh: BusinessHours) -> None:
    assert bh.sla_hours == 8.0
    assert bh.sla_deadline(paris(2026, 11, 27, 19)) == paris(2026, 11, 30, 17)
    assert bh.sla_deadline(paris(2026, 11, 27, 19), hours=2) == paris(2026, 11, 30, 11)


@pytest.mark.parametrize("hours", [-1, float("nan"), float("inf")])
def test_add_business_hours_rejects_bad_hours(bh: BusinessHours, hours: float) -> None:
    with pytest.raises(ValueError, match="hours must be"):
        bh.add_business_hours(paris(2026, 11, 30, 10), hours)


def test_business_hours_between(bh: BusinessHours) -> None:
    week = (paris(2026, 11, 30), paris(2026, 12, 7))
    assert bh.business_hours_between(*week) == 45.0
    assert bh.business_hours_between(week[1], week[0]) == -45.0
    assert bh.business_hours_between(paris(2026, 11, 27, 19), paris(2026, 11, 30, 17)) == 8.0
    assert bh.business_hours_between(paris(2026, 11, 30, 10), paris(2026, 11, 30, 10)) == 0.0
    assert bh.business_hours_between(paris(2026, 12, 21), paris(2026, 12, 28)) == 27.0  # Mon-Wed only
    utc_end = datetime(2026, 11, 30, 9, tzinfo=UTC)  # 10:00 Paris
    assert bh.business_hours_between(paris(2026, 11, 30, 9, 30), utc_end) == 0.5


def test_business_hours_between_is_inverse_of_add(bh: BusinessHours) -> None:
    start = paris(2026, 3, 20, 16, 40)
    for hours in (0.25, 1, 7.75, 8, 30, 100):
        assert bh.business_hours_between(start, bh.add_business_hours(start, hours)) == pytest.approx(hours)


# -- DST -----------------------------------------------------------------------------------------------------
def test_weekday_shop_across_dst_weekends(bh: BusinessHours) -> None:
    spring = bh.add_business_hours(paris(2026, 3, 27, 19), 8)  # clocks go forward Sun 29 March
    assert spring == paris(2026, 3, 30, 17) and spring.utcoffset() == timedelta(hours=2)
    assert spring.astimezone(UTC) == datetime(2026, 3, 30, 15, tzinfo=UTC)
    assert bh.business_hours_between(paris(2026, 3, 27, 17), paris(2026, 3, 30, 10)) == 2.0
    autumn = bh.add_business_hours(paris(2026, 10, 23, 19), 8)  # clocks go back Sun 25 October
    assert autumn == paris(2026, 10, 26, 17) and autumn.utcoffset() == timedelta(hours=1)
    assert bh.business_hours_between(paris(2026, 10, 23, 17), paris(2026, 10, 26, 10)) == 2.0


def test_dst_days_have_23_and_25_hours(tmp_path: Path) -> None:
    service = hours_with(tmp_path, always_open)
    assert service.business_hours_between(paris(2026, 3, 29), paris(2026, 3, 30)) == 23.0
    assert service.business_hours_between(paris(2026, 10, 25), paris(2026, 10, 26)) == 25.0
    spring = service.add_business_hours(paris(2026, 3, 29), 3)
    assert spring.astimezone(UTC) == datetime(2026, 3, 29, 2, tzinfo=UTC)  # 04:00 CEST on the wall
    assert (spring.hour, spring.utcoffset()) == (4, timedelta(hours=2))
    autumn = service.add_business_hours(paris(2026, 10, 25), 3)
    assert autumn.astimezone(UTC) == datetime(2026, 10, 25, 1, tzinfo=UTC)  # the second 02:00
    assert (autumn.hour, autumn.utcoffset()) == (2, timedelta(hours=1))


@pytest.mark.parametrize(
    ("sunday", "expected"),
    [(paris(2026, 3, 29), 2.0), (paris(2026, 10, 25), 4.0), (paris(2026, 11, 15), 3.0)],
    ids=["spring-forward", "fall-back", "plain"],
)
def test_range_through_the_changing_hour(tmp_path: Path, sunday: datetime, expected: float) -> None:
    night = hours_with(tmp_path, sun=["01:00-04:00"])
    assert night.business_hours_between(sunday, sunday + timedelta(days=1)) == expected


def test_repeated_hour_is_open_twice(tmp_path: Path) -> None:
    night = hours_with(tmp_path, sun=["01:00-04:00"])
    first, second = paris(2026, 10, 25, 2, 30, fold=0), paris(2026, 10, 25, 2, 30, fold=1)
    assert night.is_open(first) and night.is_open(second)
    assert night.closes_at(first) == paris(2026, 10, 25, 4)


# -- input checks and wording ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "call",
    [
        lambda bh, naive: bh.is_open(naive),
        lambda bh, naive: bh.next_opening(naive),
        lambda bh, naive: bh.closes_at(naive),
        lambda bh, naive: bh.add_business_hours(naive, 8),
        lambda bh, naive: bh.business_hours_between(naive, paris(2026, 12, 1)),
        lambda bh, naive: bh.business_hours_between(paris(2026, 11, 1), naive),
        lambda bh, naive: bh.describe_next_opening(naive, "fr"),
        lambda bh, naive: bh.describe_deadline(naive, "en"),
    ],
)
def test_naive_datetimes_are_rejected(bh: BusinessHours, call: Callable) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        call(bh, datetime(2026, 11, 30, 10))


@pytest.mark.parametrize(
    ("at", "fr", "en"),
    [
        (paris(2026, 11, 27, 19), "lundi 30 novembre à 9:00", "Monday 30 November at 9:00"),
        (paris(2026, 11, 30, 7, 30), "aujourd'hui à 9:00", "today at 9:00"),
        (paris(2026, 11, 30, 19), "demain à 9:00", "tomorrow at 9:00"),
        (paris(2026, 11, 30, 14, 5), "aujourd'hui à 14:05", "today at 14:05"),  # open now
        (paris(2026, 5, 29, 19), "lundi 1er juin à 9:00", "Monday 1 June at 9:00"),
        (paris(2026, 12, 23, 18), "lundi 28 décembre à 9:00", "Monday 28 December at 9:00"),
        (paris(2026, 12, 31, 18), "lundi 4 janvier 2027 à 9:00", "Monday 4 January 2027 at 9:00"),
    ],
)
def test_describe_next_opening(bh: BusinessHours, at: datetime, fr: str, en: str) -> None:
    assert bh.describe_next_opening(at, "fr") == fr
    assert bh.describe_next_opening(at, "en") == en


@pytest.mark.parametrize(
    ("at", "fr", "en"),
    [
        (paris(2026, 11, 27, 19), "lundi 30 novembre à 17:00", "Monday 30 November at 17:00"),
        (paris(2026, 11, 30, 10), "aujourd'hui à 18:00", "today at 18:00"),
        (paris(2026, 11, 30, 17), "demain à 16:00", "tomorrow at 16:00"),
        (paris(2026, 12, 23, 17), "lundi 28 décembre à 16:00", "Monday 28 December at 16:00"),
    ],
)
def test_describe_deadline(bh: BusinessHours, at: datetime, fr: str, en: str) -> None:
    assert bh.describe_deadline(at, "fr") == fr
    assert bh.describe_deadline(at, "en") == en


def test_descriptions_use_shop_time_and_language_variants(bh: BusinessHours) -> None:
    at = datetime(2026, 11, 30, 17, 30, tzinfo=UTC)  # 18:30 in Paris: already closed, "tomorrow"
    assert bh.describe_next_opening(at, "en-GB") == "tomorrow at 9:00"
    assert bh.describe_deadline(at, "fr_FR", hours=1) == "demain à 10:00"
    with pytest.raises(ValueError, match="unsupported language 'de'"):
        bh.describe_next_opening(at, "de")  # type: ignore[arg-type]


def test_today_and_tomorrow_words_come_from_the_catalogue(bh: BusinessHours,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    edited = {**texts.catalogue("fr"), "hours.today": "ce jour", "hours.tomorrow": "le lendemain",
              "hours.day_at": "{day}, {time}"}
    monkeypatch.setattr(texts, "catalogue", lambda lang: edited)
    assert bh.describe_next_opening(paris(2026, 11, 30, 7), "fr") == "ce jour, 9:00"
    assert bh.describe_next_opening(paris(2026, 11, 30, 19), "fr") == "le lendemain, 9:00"
    assert bh.describe_next_opening(paris(2026, 11, 27, 19), "fr") == "lundi 30 novembre, 9:00"


FRENCH_WORDS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche", "janvier",
                "février", "juin", "août", "novembre", "décembre", "aujourd", "demain", " à ", "1er")


@pytest.mark.parametrize("at", [paris(2026, 11, 27, 19), paris(2026, 11, 30, 7), paris(2026, 11, 30, 19),
                                paris(2026, 5, 29, 19), paris(2026, 12, 31, 18)])
def test_english_has_no_french_word(bh: BusinessHours, at: datetime) -> None:
    for said in (bh.describe_next_opening(at, "en"), bh.describe_deadline(at, "en")):
        assert said and not [w for w in FRENCH_WORDS if w in said.lower()], said


def test_the_order_lookup_is_offered_after_the_configured_reasons(tmp_path: Path) -> None:
    lookups = load_shop_config(SHIPPED).order_lookups
    assert lookups.offered_after("delivery/tracking") and not lookups.offered_after("returns/return-costs")
    whole = write_config(tmp_path, lambda d: d["order_lookups"].update(offer_after=["delivery"]))
    assert load_shop_config(whole).order_lookups.offered_after("delivery/lost-parcel")   # a whole category
    bad = write_config(tmp_path, lambda d: d["order_lookups"].update(offer_after="delivery/tracking"))
    with pytest.raises(ValueError, match="order_lookups.offer_after"):
        load_shop_config(bad)
