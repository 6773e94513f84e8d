"""Customer-service KPIs as pure functions on plain numbers and records (no Redis, no I/O).

Definitions follow the background articles (`../shared/seeds/`): FCR "share of requests solved
at the first contact, with no follow-up", ART "mean time needed to solve a problem", NPS
"% promoters (9-10) minus % detractors (0-6), always shown rounded, never a mean", CSAT "share
of satisfied answers", CES "customer effort score". Every rate is a percentage (0-100, not
rounded) and None when its denominator is 0: "no data" is not "0 %".

The metric names and duration buckets shared with the pre-aggregation in `analytics.events`
live here too, so the writer and the reader of the counters cannot drift apart.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any, NamedTuple, Protocol

# -- counter vocabulary (shared with analytics.events) -----------------------------------------------

BANDS = ("answer", "suggest", "none")
SURVEY_RANGES = {"csat": range(1, 6), "nps": range(0, 11), "ces": range(1, 8)}
# Upper bounds (seconds) of the duration buckets; a value v goes to the first edge >= v. Each bucket
# is at most 1.5x its lower bound, so a median read from them is within that bucket's width (see
# bucket_stats). A superset of the first, coarser edges: counters written with those still add up.
DURATION_EDGES: tuple[float, ...] = (
    5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240, 300, 420, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200,
    10800, 14400, 21600, 28800, 43200, 57600, 86400, 129600, 172800, 259200, 345600, 432000, 604800, math.inf)
# first response / resolution series: bot in wall-clock seconds, humans in business seconds
DURATION_SERIES = ("frt_bot", "res_bot", "frt_chat", "res_chat", "frt_ticket", "res_ticket")
EVENT_METRICS = (
    "msg_in", "msg_out_bot", "msg_out_agent", "faq", *(f"faq_{b}" for b in BANDS), "suggestion_click",
    "thumbs_up", "thumbs_down", "handoff_requested", "handoff_claimed", "handoff_closed",
    "handoff_reopened", "ticket_created", "ticket_replied", "ticket_solved", "ticket_reason_corrected",
    "survey_comment",
)
CONVERSATION_METRICS = ("conv", "conv_handoff", "conv_ticket", "conv_escalated", "conv_contained",
                        "conv_bot_resolved", "fcr_contacts", "fcr_repeat")
TICKET_METRICS = ("sla_met", "sla_missed")


# Score bands, used to file the "why" verbatims: NPS promoters 9-10 / passives 7-8 / detractors 0-6,
# CSAT satisfied 4-5 (the CSAT numerator) / neutral 3 / dissatisfied 1-2, CES easy 5-7 / neutral 4 / hard 1-3.
SCORE_BANDS = {
    "nps": ((9, "promoter"), (7, "passive"), (0, "detractor")),
    "csat": ((4, "satisfied"), (3, "neutral"), (1, "dissatisfied")),
    "ces": ((5, "easy"), (4, "neutral"), (1, "hard")),
}


def score_band(survey: str, score: int) -> str:
    """The band of one survey answer: score_band("nps", 8) == "passive"."""
    allowed = SURVEY_RANGES[survey]
    if score not in allowed:
        raise ValueError(f"{survey} score must be in {allowed.start}..{allowed.stop - 1}, got {score}")
    return next(name for low, name in SCORE_BANDS[survey] if score >= low)


def edge_label(edge: float) -> str:
    return "inf" if math.isinf(edge) else f"{edge:g}"


def duration_fields(series: str, seconds: float) -> dict[str, float]:
    """Counter increments recording one duration: count, sum and its bucket."""
    bucket = next(e for e in DURATION_EDGES if seconds <= e)
    return {f"{series}:n": 1, f"{series}:sum": seconds, f"{series}:le{edge_label(bucket)}": 1}


def all_metric_names() -> list[str]:
    """Every counter name a day can hold (what a report asks Redis for)."""
    names = [*EVENT_METRICS, *CONVERSATION_METRICS, *TICKET_METRICS]
    for survey, scores in SURVEY_RANGES.items():
        names += [f"{survey}:{s}" for s in scores]
    for series in DURATION_SERIES:
        names += [f"{series}:n", f"{series}:sum", *(f"{series}:le{edge_label(e)}" for e in DURATION_EDGES)]
    return names


# -- helpers ----------------------------------------------------------------------------------------


def percent(part: float, whole: float) -> float | None:
    """100 * part / whole, or None when whole is 0."""
    return None if not whole else 100.0 * part / whole


LOW_DATA_ANSWERS = 10  # a rate resting on fewer answers is shown with its count and "too few answers"


def low_data(answers: int) -> bool:
    """True when a survey/answer-based rate rests on fewer than LOW_DATA_ANSWERS answers: the
    dashboard and the API then flag it (`low_data`) next to its count `n`, whatever the rate says."""
    return answers < LOW_DATA_ANSWERS


def round_half_away(value: Fraction | float) -> int:
    """Round to the nearest integer, halves away from zero: 6.5 -> 7, -6.5 -> -7, 0.5 -> 1."""
    value = Fraction(value)
    magnitude = math.floor(abs(value) + Fraction(1, 2))
    return magnitude if value >= 0 else -magnitude


def _histogram(scores: Iterable[int] | Mapping[int, int], survey: str) -> Counter[int]:
    """Scores as score -> count; accepts a list of answers or an already counted histogram."""
    counts: Counter[int] = Counter()
    items = scores.items() if isinstance(scores, Mapping) else ((s, 1) for s in scores)
    allowed = SURVEY_RANGES[survey]
    for score, n in items:
        if isinstance(score, bool) or int(score) != score or int(score) not in allowed:
            raise ValueError(f"{survey} score must be an integer in {allowed.start}..{allowed.stop - 1}, "
                             f"got {score!r}")
        if n < 0:
            raise ValueError(f"negative count {n} for {survey} score {score}")
        counts[int(score)] += int(n)
    return counts


# -- surveys ----------------------------------------------------------------------------------------


def nps(scores: Iterable[int] | Mapping[int, int]) -> int | None:
    """Net Promoter Score: % promoters (9-10) - % detractors (0-6), an integer in -100..100.

    Computed on the exact difference 100 * (promoters - detractors) / answers, then rounded half
    away from zero (+0.5 -> 1, -0.5 -> -1). Subtracting two already rounded percentages can be
    one point off. Example from the seed article: 35 promoters, 10 passives, 30 detractors
    (75 answers): 46.67 - 40 = 6.67 -> 7. None when nobody answered. `scores` is a list of
    answers (0-10) or a histogram {score: count}.
    """
    counts = _histogram(scores, "nps")
    total = sum(counts.values())
    if not total:
        return None
    promoters = counts[9] + counts[10]
    detractors = sum(counts[s] for s in range(0, 7))
    return round_half_away(Fraction(100 * (promoters - detractors), total))


def nps_breakdown(scores: Iterable[int] | Mapping[int, int]) -> dict[str, int]:
    counts = _histogram(scores, "nps")
    return {"n": sum(counts.values()), "promoters": counts[9] + counts[10],
            "passives": counts[7] + counts[8], "detractors": sum(counts[s] for s in range(0, 7))}


def csat(scores: Iterable[int] | Mapping[int, int]) -> float | None:
    """Customer Satisfaction Score: % of answers (1-5 scale) that are 4 or 5 ("satisfied").

    CSAT = 100 * (#4 + #5) / #answers; None without answers.
    """
    counts = _histogram(scores, "csat")
    return percent(counts[4] + counts[5], sum(counts.values()))


def ces(scores: Iterable[int] | Mapping[int, int]) -> float | None:
    """Customer Effort Score: mean of the answers on a 1-7 scale (7 = very easy). None without answers.

    CES = sum(scores) / #answers.
    """
    counts = _histogram(scores, "ces")
    total = sum(counts.values())
    return None if not total else sum(s * n for s, n in counts.items()) / total


def mean_score(scores: Iterable[int] | Mapping[int, int], survey: str) -> float | None:
    counts = _histogram(scores, survey)
    total = sum(counts.values())
    return None if not total else sum(s * n for s, n in counts.items()) / total


# -- bot and routing rates --------------------------------------------------------------------------


def containment(contained: int, conversations: int) -> float | None:
    """Containment (deflection) rate: % of conversations that ended with no handoff and no ticket.

    containment = 100 * conversations without handoff request nor ticket / conversations, where a
    conversation counts once the shopper wrote at least one message.
    """
    return percent(contained, conversations)


def resolved_by_bot(*, handed_off: bool, ticket: bool, answered: bool, last_thumbs: str | None) -> bool:
    """THE definition of "resolved by the bot", for one conversation (the only one: the counters,
    hence the API, the dashboard tile, the CSV and the reports, all derive from it):

    no human was asked for (no handoff request), no ticket was created, the bot gave an answer
    (an FAQ answer of band `answer`, or a suggestion the shopper clicked), and the shopper's last
    thumbs in the conversation was not down. Stricter than containment (no handoff, no ticket):
    a shopper who gives up silently is contained but not resolved.
    """
    return not (handed_off or ticket) and answered and last_thumbs != "down"


def bot_resolution(resolved: int, conversations: int) -> float | None:
    """Bot resolution rate: 100 * conversations resolved by the bot (`resolved_by_bot`) /
    conversations (with at least one shopper message)."""
    return percent(resolved, conversations)


def handoff_rate(handed_off: int, conversations: int) -> float | None:
    """Handoff rate: % of conversations where a human was requested (100 * handoffs / conversations)."""
    return percent(handed_off, conversations)


def answer_rate_by_band(band_counts: Mapping[str, int]) -> dict[str, float | None]:
    """Share of FAQ lookups per confidence band: 100 * lookups in band / all lookups.

    `answer` is the FAQ answer rate proper (answered directly); `suggest` offered buttons;
    `none` means the bot said it did not know. Unknown band names are rejected.
    """
    unknown = set(band_counts) - set(BANDS)
    if unknown:
        raise ValueError(f"unknown bands {sorted(unknown)} (expected {BANDS})")
    total = sum(band_counts.values())
    return {band: percent(band_counts.get(band, 0), total) for band in BANDS}


def thumbs_up_rate(up: int, down: int) -> float | None:
    """% of thumbs given that are up: 100 * up / (up + down)."""
    return percent(up, up + down)


# -- first contact resolution -----------------------------------------------------------------------

FCR_WINDOW = timedelta(days=7)


class Contact(NamedTuple):
    customer: str
    reason: str
    at: datetime | float  # aware datetime or epoch seconds


def _epoch(value: datetime | float) -> float:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value}: use timezone-aware datetimes")
        return value.timestamp()
    return float(value)


def fcr_counts(contacts: Iterable[Contact | tuple[str, str, datetime | float]], *,
               window: timedelta = FCR_WINDOW, as_of: datetime | float | None = None) -> tuple[int, int]:
    """(resolved, judged) behind `fcr`; see there for the rules."""
    by_key: dict[tuple[str, str], list[float]] = {}
    for customer, reason, at in contacts:
        by_key.setdefault((customer, reason), []).append(_epoch(at))
    span = window.total_seconds()
    horizon = None if as_of is None else _epoch(as_of)
    resolved = judged = 0
    for times in by_key.values():
        times.sort()
        for i, t in enumerate(times):
            repeated = i + 1 < len(times) and times[i + 1] - t <= span
            if not repeated and horizon is not None and t + span > horizon:
                continue  # window still open: a repeat may still come, not judged yet
            judged += 1
            resolved += not repeated
    return resolved, judged


def fcr(contacts: Iterable[Contact | tuple[str, str, datetime | float]], *,
        window: timedelta = FCR_WINDOW, as_of: datetime | float | None = None) -> float | None:
    """First contact resolution: % of contacts NOT followed by a new contact from the same customer
    on the same contact reason within `window` (7 days) - "solved at the first contact".

    FCR = 100 * contacts without a repeat within 7 days / judged contacts.

    A contact is (customer, reason, timestamp). A repeat at exactly 7 days still counts as a repeat;
    a contact on another reason does not. Each contact is judged on its own: in A, A+2d, A+20d the
    first is a repeat (not resolved), the second and third are resolved.

    Tail of the period: a contact whose 7-day window is still open at `as_of` (t + 7 days > as_of)
    and has no repeat yet is not judged (excluded from numerator and denominator) - it could still
    fail. A contact that already has a repeat is judged (failed) at once. With `as_of=None` the data
    is taken as complete: every contact is judged on what is given. None when nothing is judged.
    """
    resolved, judged = fcr_counts(contacts, window=window, as_of=as_of)
    return percent(resolved, judged)


# -- durations --------------------------------------------------------------------------------------


class BusinessCalendar(Protocol):
    """What is needed of shop.hours.BusinessHours."""

    def business_hours_between(self, start: datetime, end: datetime) -> float: ...


class Span(NamedTuple):
    start: datetime
    end: datetime
    human: bool = False  # measured in business seconds when a calendar is given


def business_seconds(hours: BusinessCalendar, start: datetime, end: datetime) -> float:
    """Open time between two instants, in seconds (BusinessHours counts in hours)."""
    return hours.business_hours_between(start, end) * 3600.0


def span_seconds(span: Span, hours: BusinessCalendar | None = None) -> float:
    """Bot spans in wall-clock seconds; human spans in business seconds (if `hours` is given)."""
    if span.human and hours is not None:
        return business_seconds(hours, span.start, span.end)
    return (span.end - span.start).total_seconds()


def _nearest_rank(sorted_values: list[float], q: float) -> float:
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


def duration_stats(seconds: Iterable[float]) -> dict[str, float | int] | None:
    """n, mean, median and p90 (nearest-rank percentiles) of durations in seconds; None if empty."""
    values = sorted(float(s) for s in seconds)
    if not values:
        return None
    return {"n": len(values), "mean_s": sum(values) / len(values),
            "p50_s": _nearest_rank(values, 0.5), "p90_s": _nearest_rank(values, 0.9)}


def _bot_human_stats(spans: Iterable[Span], hours: BusinessCalendar | None) -> dict[str, Any]:
    bot: list[float] = []
    human: list[float] = []
    for span in spans:
        (human if span.human else bot).append(span_seconds(span, hours))
    return {"bot": duration_stats(bot), "human": duration_stats(human)}


def first_response_time(spans: Iterable[Span], hours: BusinessCalendar | None = None) -> dict[str, Any]:
    """First response time, bot and human apart: time from the shopper's request (first message;
    handoff request; ticket creation) to the first reply (bot message; agent message; ticket reply).

    FRT = mean(reply - request). Bot spans are wall-clock seconds; human spans are business seconds
    (`hours`: the shop's BusinessHours), so a ticket sent Friday 17:00 and answered Monday 10:00 with
    9-18 hours waited 2 h, not 65 h.
    """
    return _bot_human_stats(spans, hours)


def resolution_time(spans: Iterable[Span], hours: BusinessCalendar | None = None) -> dict[str, Any]:
    """Average resolution time (ART), bot and human apart: ART = mean(solved - request).

    Bot: first shopper message -> the answer that solved it. Human: handoff request -> handoff
    closed, ticket created -> ticket solved, in business seconds (see first_response_time).
    """
    return _bot_human_stats(spans, hours)


def bucket_stats(counters: Mapping[str, float], series: str) -> dict[str, float | int] | None:
    """n, median and p90 (seconds) of a pre-aggregated duration series; None if no value.

    A percentile is estimated inside the bucket holding its rank, by linear interpolation between
    the bucket's bounds (what Prometheus' histogram_quantile does): one value of 100 s, in the
    (90, 120] bucket, reads 120; the error is at most the bucket's width (edges grow by 1.5x at
    most). Percentiles, not a mean: one ticket left a week would drag a mean far from what most
    shoppers waited. A rank in the open-ended last bucket reads as its lower bound (7 days).
    """
    n = int(counters.get(f"{series}:n", 0))
    if n <= 0:
        return None
    out: dict[str, float | int] = {"n": n}
    for name, q in (("median_s", 0.5), ("p90_s", 0.9)):
        need, seen, low = max(1, math.ceil(q * n)), 0, 0.0
        value = DURATION_EDGES[-2]
        for edge in DURATION_EDGES:
            in_bucket = int(counters.get(f"{series}:le{edge_label(edge)}", 0))
            if in_bucket and seen + in_bucket >= need:
                value = low if math.isinf(edge) else low + (edge - low) * (need - seen) / in_bucket
                break
            seen += in_bucket
            low = edge
        out[name] = value
    return out


# -- SLA --------------------------------------------------------------------------------------------


class TicketSla(NamedTuple):
    created: datetime
    handled: datetime | None  # first reply (or solved without a reply); None while waiting
    due: datetime | None = None  # None: computed with hours.sla_deadline(created)


class SlaCalendar(Protocol):
    def sla_deadline(self, at: datetime, hours: float | None = None) -> datetime: ...


def sla_counts(tickets: Iterable[TicketSla], *, hours: SlaCalendar | None = None,
               as_of: datetime | None = None) -> tuple[int, int]:
    """(met, judged) behind `sla_compliance`."""
    met = judged = 0
    for ticket in tickets:
        due = ticket.due
        if due is None:
            if hours is None:
                raise ValueError("ticket without due date and no business hours to compute it")
            due = hours.sla_deadline(ticket.created)
        if ticket.handled is not None:
            judged += 1
            met += ticket.handled <= due
        elif as_of is not None and as_of > due:
            judged += 1  # still waiting and already late: a miss, whatever happens next
    return met, judged


def sla_compliance(tickets: Iterable[TicketSla], *, hours: SlaCalendar | None = None,
                   as_of: datetime | None = None) -> float | None:
    """Ticket SLA compliance: % of judged tickets first answered by their deadline.

    SLA = 100 * tickets answered at or before due / judged tickets. The deadline is the promised
    reply time in business hours (BusinessHours.sla_deadline, e.g. 8 business hours). Judged:
    answered tickets, plus unanswered ones already past due at `as_of` (counted as missed).
    Unanswered tickets not yet due are pending, not counted. None when nothing is judged.
    """
    met, judged = sla_counts(tickets, hours=hours, as_of=as_of)
    return percent(met, judged)


# -- A/B tests --------------------------------------------------------------------------------------


def two_proportion_test(success_a: int, n_a: int, success_b: int, n_b: int) -> tuple[float, float]:
    """Two-proportion z-test (pooled, normal approximation), two-sided.

    p = (x_a + x_b) / (n_a + n_b); z = (x_a/n_a - x_b/n_b) / sqrt(p (1 - p) (1/n_a + 1/n_b));
    p_value = erfc(|z| / sqrt 2). Returns (z, p_value); (0.0, 1.0) when both proportions are 0 or 1
    (no variance). The approximation wants about 5+ successes and failures per group.
    """
    for name, x, n in (("a", success_a, n_a), ("b", success_b, n_b)):
        if n <= 0 or not 0 <= x <= n:
            raise ValueError(f"group {name}: need 0 <= successes <= n and n > 0, got {x}/{n}")
    pooled = (success_a + success_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if se == 0:
        return 0.0, 1.0
    z = (success_a / n_a - success_b / n_b) / se
    return z, math.erfc(abs(z) / math.sqrt(2))


def answers(n: int) -> dict[str, int | bool]:
    """What every answer-based rate carries: how many answers (`n`) and whether that is too few."""
    return {"n": n, "low_data": low_data(n)}


# -- dashboard summary ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kpis:
    """Dashboard KPIs from pre-aggregated counters (metric name -> summed value for the period and
    filters, as `analytics.report` reads them). `overdue_open`: tickets still unanswered and past
    their SLA deadline (counted as missed)."""

    counters: Mapping[str, float]
    overdue_open: int = 0

    def c(self, name: str) -> int:
        return int(self.counters.get(name, 0))

    def _hist(self, survey: str) -> dict[int, int]:
        return {s: self.c(f"{survey}:{s}") for s in SURVEY_RANGES[survey]}

    def as_dict(self) -> dict[str, Any]:
        c = self.c
        conversations = c("conv")
        bands = {b: c(f"faq_{b}") for b in BANDS}
        nps_hist, csat_hist, ces_hist = self._hist("nps"), self._hist("csat"), self._hist("ces")
        met, missed = c("sla_met"), c("sla_missed") + self.overdue_open
        votes = c("thumbs_up") + c("thumbs_down")
        return {
            "volume": {"conversations": conversations, "messages_in": c("msg_in"),
                       "bot_messages": c("msg_out_bot"), "agent_messages": c("msg_out_agent"),
                       "faq_lookups": c("faq"), "suggestion_clicks": c("suggestion_click"),
                       "handoffs_requested": c("handoff_requested"), "handoffs_claimed": c("handoff_claimed"),
                       "handoffs_closed": c("handoff_closed"), "handoffs_reopened": c("handoff_reopened"),
                       "tickets_created": c("ticket_created"),
                       "tickets_replied": c("ticket_replied"), "tickets_solved": c("ticket_solved"),
                       "ticket_reasons_corrected": c("ticket_reason_corrected")},
            "containment": {"rate": containment(c("conv_contained"), conversations),
                            "contained": c("conv_contained"), "conversations": conversations},
            "bot_resolution": {"rate": bot_resolution(c("conv_bot_resolved"), conversations),
                               "resolved": c("conv_bot_resolved"), "conversations": conversations},
            "handoff": {"rate": handoff_rate(c("conv_handoff"), conversations),
                        "conversations_handed_off": c("conv_handoff"), "conversations": conversations},
            "ticket": {"rate": percent(c("conv_ticket"), conversations),
                       "conversations_with_ticket": c("conv_ticket"), "conversations": conversations},
            "faq_bands": {"rates": answer_rate_by_band(bands), "counts": bands},
            "thumbs": {"up_rate": thumbs_up_rate(c("thumbs_up"), c("thumbs_down")),
                       "up": c("thumbs_up"), "down": c("thumbs_down"), **answers(votes)},
            "fcr": {"rate": percent(c("fcr_contacts") - c("fcr_repeat"), c("fcr_contacts")),
                    "contacts": c("fcr_contacts"), "repeated": c("fcr_repeat"), **answers(c("fcr_contacts"))},
            # humans in business seconds; chats (handoff -> agent's first message) and tickets
            # (created -> first reply) apart: minutes and hours do not average into anything true
            "first_response": {"bot": bucket_stats(self.counters, "frt_bot"),
                               "human_chat": bucket_stats(self.counters, "frt_chat"),
                               "human_ticket": bucket_stats(self.counters, "frt_ticket")},
            "resolution": {"bot": bucket_stats(self.counters, "res_bot"),
                           "human_chat": bucket_stats(self.counters, "res_chat"),
                           "human_ticket": bucket_stats(self.counters, "res_ticket")},
            "sla": {"rate": percent(met, met + missed), "met": met, "missed": missed,
                    "overdue_open": self.overdue_open},
            "csat": {"score": csat(csat_hist), "mean": mean_score(csat_hist, "csat"),
                     **answers(sum(csat_hist.values())), "histogram": csat_hist},
            "nps": {"score": nps(nps_hist), **nps_breakdown(nps_hist),
                    "low_data": low_data(sum(nps_hist.values())), "histogram": nps_hist},
            "ces": {"score": ces(ces_hist), **answers(sum(ces_hist.values())), "histogram": ces_hist},
        }
