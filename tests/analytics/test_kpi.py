"""KPI formulas against hand-computed fixtures (pure functions, no Redis)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from analytics import kpi
from analytics.kpi import Contact, Span, TicketSla
from shop.config import HoursConfig, TimeRange
from shop.hours import BusinessHours

PARIS = ZoneInfo("Europe/Paris")
DAY = timedelta(days=1)


def paris(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=PARIS)


@pytest.fixture
def hours() -> BusinessHours:
    """Mon-Fri 09:00-18:00 Paris, no holidays, 8 business hours SLA."""
    weekly = {d: (TimeRange(9 * 60, 18 * 60),) for d in range(5)}
    return BusinessHours(HoursConfig(timezone="Europe/Paris", weekly=weekly), sla_hours=8)


# -- NPS ------------------------------------------------------------------------------------------


def test_nps_seed_article_example() -> None:
    # 35 promoters, 10 passives, 30 detractors: 46.67 % - 40 % = 6.67 -> 7
    answers = [10] * 20 + [9] * 15 + [8] * 6 + [7] * 4 + [6] * 10 + [3] * 10 + [0] * 10
    assert len(answers) == 75
    assert kpi.nps(answers) == 7
    assert kpi.nps({10: 35, 7: 10, 0: 30}) == 7  # same, as a histogram
    assert kpi.nps_breakdown(answers) == {"n": 75, "promoters": 35, "passives": 10, "detractors": 30}


def test_nps_edges() -> None:
    assert kpi.nps([]) is None
    assert kpi.nps({}) is None
    assert kpi.nps([0, 3, 6, 6]) == -100
    assert kpi.nps([9, 10]) == 100
    assert kpi.nps([7, 8, 8]) == 0


def test_nps_rounds_half_away_from_zero() -> None:
    # 1 promoter among 200 answers: +0.5 -> 1; 1 detractor: -0.5 -> -1
    assert kpi.nps({9: 1, 8: 199}) == 1
    assert kpi.nps({6: 1, 8: 199}) == -1
    # 13 promoters / 200: 6.5 -> 7, and the mirror -6.5 -> -7 (not banker's rounding to 6)
    assert kpi.nps({10: 13, 7: 187}) == 7
    assert kpi.nps({0: 13, 7: 187}) == -7
    # just under a half stays down: 1/201 = 0.497 -> 0
    assert kpi.nps({9: 1, 8: 200}) == 0
    assert kpi.round_half_away(2.5) == 3 and kpi.round_half_away(-2.5) == -3


def test_nps_rejects_out_of_range() -> None:
    with pytest.raises(ValueError):
        kpi.nps([11])
    with pytest.raises(ValueError):
        kpi.nps([-1])


# -- CSAT / CES -----------------------------------------------------------------------------------


def test_csat_is_share_of_4_and_5() -> None:
    assert kpi.csat([5, 4, 3, 2, 1, 5]) == pytest.approx(50.0)
    assert kpi.csat([4, 4, 4]) == pytest.approx(100.0)
    assert kpi.csat({1: 3, 5: 1}) == pytest.approx(25.0)
    assert kpi.csat([]) is None
    with pytest.raises(ValueError):
        kpi.csat([0])
    with pytest.raises(ValueError):
        kpi.csat([6])


def test_ces_is_mean_on_1_to_7() -> None:
    assert kpi.ces([7, 5, 6]) == pytest.approx(6.0)
    assert kpi.ces({1: 1, 7: 3}) == pytest.approx(5.5)
    assert kpi.ces([]) is None
    with pytest.raises(ValueError):
        kpi.ces([8])


# -- rates ----------------------------------------------------------------------------------------


def test_rates() -> None:
    assert kpi.containment(6, 8) == pytest.approx(75.0)
    assert kpi.containment(0, 0) is None
    assert kpi.handoff_rate(1, 4) == pytest.approx(25.0)
    assert kpi.thumbs_up_rate(3, 1) == pytest.approx(75.0)
    assert kpi.thumbs_up_rate(0, 0) is None
    assert kpi.answer_rate_by_band({"answer": 6, "suggest": 3, "none": 1}) == {
        "answer": pytest.approx(60.0), "suggest": pytest.approx(30.0), "none": pytest.approx(10.0)}
    assert kpi.answer_rate_by_band({}) == {"answer": None, "suggest": None, "none": None}
    with pytest.raises(ValueError):
        kpi.answer_rate_by_band({"maybe": 1})


# -- FCR ------------------------------------------------------------------------------------------


def test_fcr_repeat_within_7_days_fails_the_first_contact() -> None:
    t0 = paris(2026, 3, 2, 10)
    contacts = [Contact("c1", "delivery/tracking", t0), Contact("c1", "delivery/tracking", t0 + 2 * DAY)]
    assert kpi.fcr_counts(contacts) == (1, 2)  # the second one had no follow-up
    assert kpi.fcr(contacts) == pytest.approx(50.0)


def test_fcr_repeat_after_7_days_is_a_new_issue() -> None:
    t0 = paris(2026, 3, 2, 10)
    contacts = [("c1", "delivery/tracking", t0), ("c1", "delivery/tracking", t0 + 8 * DAY)]
    assert kpi.fcr(contacts) == pytest.approx(100.0)
    # exactly 7 days later still counts as a repeat
    contacts = [("c1", "delivery/tracking", t0), ("c1", "delivery/tracking", t0 + 7 * DAY)]
    assert kpi.fcr(contacts) == pytest.approx(50.0)


def test_fcr_other_reason_or_other_customer_is_not_a_repeat() -> None:
    t0 = paris(2026, 3, 2, 10)
    contacts = [("c1", "delivery/tracking", t0), ("c1", "returns/exchange", t0 + DAY),
                ("c2", "delivery/tracking", t0 + DAY)]
    assert kpi.fcr(contacts) == pytest.approx(100.0)


def test_fcr_chain_and_input_order() -> None:
    t0 = paris(2026, 3, 2, 10).timestamp()  # epoch seconds work too
    contacts = [("c1", "r", t0 + 20 * 86400), ("c1", "r", t0 + 2 * 86400), ("c1", "r", t0)]
    # t0 repeated at +2d; +2d has nothing within 7 days (+20d is 18 days later); +20d alone
    assert kpi.fcr_counts(contacts) == (2, 3)


def test_fcr_tail_of_the_period_is_not_judged() -> None:
    t0 = paris(2026, 3, 2, 10)
    contacts = [("c1", "r", t0), ("c2", "r", t0 + 5 * DAY), ("c2", "r", t0 + 6 * DAY)]
    as_of = t0 + 8 * DAY
    # c1 window closed, resolved; c2's first already repeated -> judged, failed;
    # c2's second: window open until t0 + 13 d -> pending, not counted
    assert kpi.fcr_counts(contacts, as_of=as_of) == (1, 2)
    assert kpi.fcr([("c1", "r", t0)], as_of=t0 + 3 * DAY) is None
    assert kpi.fcr([]) is None


# -- durations ------------------------------------------------------------------------------------


def test_duration_stats_nearest_rank() -> None:
    assert kpi.duration_stats([40, 10, 30, 20]) == {"n": 4, "mean_s": 25.0, "p50_s": 20.0, "p90_s": 40.0}
    assert kpi.duration_stats([]) is None


def test_human_resolution_time_counts_business_hours_across_a_weekend(hours: BusinessHours) -> None:
    friday_17 = paris(2026, 3, 6, 17)   # 2026-03-06 is a Friday
    monday_10 = paris(2026, 3, 9, 10)
    spans = [Span(friday_17, monday_10, human=True), Span(friday_17, friday_17 + timedelta(seconds=4))]
    result = kpi.resolution_time(spans, hours)
    assert result["human"]["mean_s"] == pytest.approx(2 * 3600)  # Fri 17-18 + Mon 9-10
    assert result["bot"]["mean_s"] == pytest.approx(4.0)         # the bot in wall-clock seconds
    # without a calendar, humans fall back to wall-clock time (65 h)
    assert kpi.resolution_time(spans)["human"]["mean_s"] == pytest.approx(65 * 3600)
    frt = kpi.first_response_time([Span(paris(2026, 3, 7, 12), paris(2026, 3, 9, 9, 30), human=True)], hours)
    assert frt["human"]["mean_s"] == pytest.approx(1800)  # Saturday ticket: only Monday's 30 min count
    assert frt["bot"] is None


def test_bucket_stats_from_counters() -> None:
    counters: dict[str, float] = {}
    for seconds in (5, 8, 50, 700):
        for name, value in kpi.duration_fields("frt_bot", seconds).items():
            counters[name] = counters.get(name, 0) + value
    stats = kpi.bucket_stats(counters, "frt_bot")
    # median: rank 2 of 4, alone in (5, 10]; p90: rank 4, alone in (600, 900]
    assert stats == {"n": 4, "median_s": 10, "p90_s": 900}
    assert kpi.bucket_stats({}, "frt_bot") is None


def test_bucket_percentiles_stay_within_a_bucket_of_the_truth() -> None:
    """Interpolated inside the bucket: never further from the exact percentile than the bucket's
    width, itself at most half its lower bound."""
    for values in ([float(s) for s in range(1, 101)], [100.0] * 30 + [3 * 3600.0] * 12,
                   [60.0 * m for m in range(1, 200, 7)]):
        counters: dict[str, float] = {}
        for seconds in values:
            for name, value in kpi.duration_fields("frt_chat", seconds).items():
                counters[name] = counters.get(name, 0) + value
        stats = kpi.bucket_stats(counters, "frt_chat")
        exact = kpi.duration_stats(values)
        assert stats is not None and exact is not None
        for ours, truth in (("median_s", "p50_s"), ("p90_s", "p90_s")):
            upper = next(e for e in kpi.DURATION_EDGES if exact[truth] <= e)
            lower = max([0.0, *(e for e in kpi.DURATION_EDGES if e < upper)])
            assert lower <= stats[ours] <= upper, (ours, stats, exact)
    # every edge is at most 1.5x the one before (from 10 s on): the error bound above is tight
    finite = [e for e in kpi.DURATION_EDGES if e != float("inf")]
    assert all(b <= 1.5 * a for a, b in zip(finite[1:], finite[2:], strict=False))


def test_counters_of_the_first_coarse_buckets_still_read() -> None:
    """Days written with the first edges (10, 30, 60, 120, 300, ...) stay readable: every old edge
    is still an edge, so the cumulative counts at them are right."""
    old = {"frt_ticket:n": 3, "frt_ticket:sum": 3 * 1000.0, "frt_ticket:le1800": 3}
    assert {10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 28800, 57600, 86400, 172800,
            604800} <= set(kpi.DURATION_EDGES)
    stats = kpi.bucket_stats(old, "frt_ticket")
    assert stats is not None and 1200 < stats["median_s"] <= 1800


# -- SLA ------------------------------------------------------------------------------------------


def test_sla_compliance(hours: BusinessHours) -> None:
    created = paris(2026, 3, 6, 17)  # Friday 17:00 + 8 business hours -> due Monday 16:00
    assert hours.sla_deadline(created) == paris(2026, 3, 9, 16)
    tickets = [
        TicketSla(created, paris(2026, 3, 9, 15)),            # met
        TicketSla(created, paris(2026, 3, 9, 16)),            # met, exactly on time
        TicketSla(created, paris(2026, 3, 9, 17)),            # missed
        TicketSla(created, None),                              # waiting
        TicketSla(created, paris(2026, 3, 6, 17, 30), due=paris(2026, 3, 6, 17, 10)),  # explicit due: missed
    ]
    # on Monday noon the waiting ticket is not due yet: pending, not judged
    assert kpi.sla_counts(tickets, hours=hours, as_of=paris(2026, 3, 9, 12)) == (2, 4)
    assert kpi.sla_compliance(tickets, hours=hours, as_of=paris(2026, 3, 9, 12)) == pytest.approx(50.0)
    # on Tuesday it is late: a miss
    assert kpi.sla_compliance(tickets, hours=hours, as_of=paris(2026, 3, 10, 9)) == pytest.approx(40.0)
    assert kpi.sla_compliance([], hours=hours) is None
    with pytest.raises(ValueError):
        kpi.sla_compliance([TicketSla(created, None)])  # no due and no calendar


# -- A/B ------------------------------------------------------------------------------------------


def test_two_proportion_z_test_known_values() -> None:
    # 45/100 vs 30/100: pooled p = 0.375, se = sqrt(.375 * .625 * .02) = 0.068465, z = 2.1909
    z, p = kpi.two_proportion_test(45, 100, 30, 100)
    assert z == pytest.approx(2.19089, abs=1e-4)
    assert p == pytest.approx(0.028460, abs=1e-5)
    # 20 % vs 25 % on 1000 each: z = -2.6774, two-sided p = 0.00742
    z, p = kpi.two_proportion_test(200, 1000, 250, 1000)
    assert z == pytest.approx(-2.677398, abs=1e-5)
    assert p == pytest.approx(0.0074196, abs=1e-6)
    assert kpi.two_proportion_test(10, 10, 5, 5) == (0.0, 1.0)
    with pytest.raises(ValueError):
        kpi.two_proportion_test(1, 0, 1, 1)


# -- dashboard summary ----------------------------------------------------------------------------


def test_kpis_summary_from_counters() -> None:
    counters = {"conv": 4, "conv_contained": 3, "conv_handoff": 1, "conv_escalated": 1,
                "conv_bot_resolved": 2,
                "faq": 5, "faq_answer": 3, "faq_suggest": 1, "faq_none": 1, "thumbs_up": 3, "thumbs_down": 1,
                "fcr_contacts": 4, "fcr_repeat": 1, "sla_met": 3, "sla_missed": 0,
                "csat:5": 2, "csat:3": 2, "nps:10": 35, "nps:7": 10, "nps:2": 30, "ces:6": 2, "ces:4": 1}
    out = kpi.Kpis(counters, overdue_open=1).as_dict()
    assert out["containment"]["rate"] == pytest.approx(75.0)
    assert out["bot_resolution"]["rate"] == pytest.approx(50.0)
    assert out["handoff"]["rate"] == pytest.approx(25.0)
    assert out["faq_bands"]["rates"]["answer"] == pytest.approx(60.0)
    assert out["thumbs"]["up_rate"] == pytest.approx(75.0)
    assert out["fcr"]["rate"] == pytest.approx(75.0)
    assert out["sla"] == {"rate": pytest.approx(75.0), "met": 3, "missed": 1, "overdue_open": 1}
    assert out["csat"]["score"] == pytest.approx(50.0)
    assert out["nps"]["score"] == 7
    assert out["ces"]["score"] == pytest.approx(16 / 3)
    assert out["first_response"]["bot"] is None
    empty = kpi.Kpis({}).as_dict()
    assert empty["nps"]["score"] is None and empty["containment"]["rate"] is None
