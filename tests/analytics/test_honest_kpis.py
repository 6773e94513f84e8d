"""The dashboard's honest figures on a real Redis (issue 19): events recorded through the EventLog,
KPIs and reasons read back by analytics.report.

- first response: chats and tickets apart, each a median and a p90 in business hours (never one
  mean of ~100 s chats and ~3 h tickets); only chats, only tickets, both;
- "resolved by the bot": one definition (analytics.kpi.resolved_by_bot) behind the counters;
- every answer-based rate carries its count `n` and `low_data` under 10 answers;
- trends against the previous period only when that period has data.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis

from analytics import events as ev
from analytics import report
from analytics.kpi import LOW_DATA_ANSWERS, resolved_by_bot
from analytics.log import EventLog
from ops.redis_server import RedisServer
from shop.config import ReasonsConfig
from tests.helpers import on_redis

from .helpers import business_hours, paris

TRACKING, EXCHANGE = "delivery/tracking", "returns/exchange"
AS_OF = paris(31, 12)


def chat(cid: str, day: int, hour: int, reply_after_s: float, *, reason: str = TRACKING) -> list[ev.Event]:
    """A web chat handed to a human at `hour`:00 (Monday-Friday, open), an agent replies after
    `reply_after_s` seconds (all within opening hours)."""
    start = paris(day, hour)
    return [ev.message_in(conversation=cid, channel="web", lang="fr", customer=f"u-{cid}", reason=reason,
                          at=start, id=f"{cid}-1"),
            ev.handoff("handoff_requested", conversation=cid, at=start + timedelta(seconds=5), id=f"{cid}-2"),
            ev.message_out(conversation=cid, role="agent",
                           at=start + timedelta(seconds=5 + reply_after_s), id=f"{cid}-3")]


def ticket(tid: str, day: int, hour: int, reply_after_h: float) -> list[ev.Event]:
    """An e-mail ticket created at `hour`:00 and answered `reply_after_h` wall-clock hours later."""
    created = paris(day, hour)
    return [ev.ticket_created(ticket=tid, channel="email", lang="fr", reason=EXCHANGE, at=created,
                              id=f"{tid}-1"),
            ev.ticket_update("ticket_replied", ticket=tid, agent="ana",
                             at=created + timedelta(hours=reply_after_h), id=f"{tid}-2")]


def record_and_read(redis_url: str, events: list[ev.Event], start: str = "2026-03-02",
                    end: str = "2026-03-06") -> dict[str, Any]:
    async def job(r: aioredis.Redis) -> dict[str, Any]:
        log = EventLog(r, hours=business_hours())
        for e in events:
            assert await log.append(e)
        return await report.kpis(r, start, end, as_of=AS_OF)
    return on_redis(redis_url, flush=True, decode=True, job=job)


# -- first response: chats and tickets apart -------------------------------------------------------

CHATS = [e for i, s in enumerate((60, 90, 100, 100, 120, 150, 200, 240, 300, 900))
         for e in chat(f"c{i}", 2 + i % 5, 10, s)]           # ten chats, 1 to 15 min, median 120 s
TICKETS = [e for i, h in enumerate((1, 2, 3, 3, 4, 5))
           for e in ticket(f"t{i}", 2 + i % 4, 9, h)]         # six tickets, 9:00 + h, all in open hours


def test_only_chats(redis_server: RedisServer) -> None:
    frt = record_and_read(redis_server.url, CHATS)["first_response"]
    assert frt["human_ticket"] is None
    chats = frt["human_chat"]
    assert chats["n"] == 10
    # exact median: 120 s (5th of 10); the bucketed one is within its (90, 120] bucket
    assert 90 < chats["median_s"] <= 120
    assert 240 < chats["p90_s"] <= 300                         # 9th of 10: 300 s, in (240, 300]
    assert "mean_s" not in chats and "human" not in frt         # no mean, no chats + tickets mix


def test_only_tickets(redis_server: RedisServer) -> None:
    frt = record_and_read(redis_server.url, TICKETS)["first_response"]
    assert frt["human_chat"] is None
    tickets = frt["human_ticket"]
    assert tickets["n"] == 6
    assert 2 * 3600 < tickets["median_s"] <= 3 * 3600          # 3rd of 6: 3 h, in (2 h, 3 h]
    assert 4 * 3600 < tickets["p90_s"] <= 6 * 3600             # 6th of 6: 5 h, in (4 h, 6 h]


def test_chats_and_tickets_stay_apart(redis_server: RedisServer) -> None:
    """The French manager's case: one mean of both said 59 min; apart, chats are ~2 min and tickets ~3 h."""
    frt = record_and_read(redis_server.url, CHATS + TICKETS)["first_response"]
    assert frt["human_chat"]["n"] == 10 and frt["human_ticket"]["n"] == 6
    assert frt["human_chat"]["median_s"] <= 120 and frt["human_ticket"]["median_s"] > 2 * 3600
    assert set(frt) == {"bot", "human_chat", "human_ticket"}


def test_ticket_times_are_business_hours(redis_server: RedisServer) -> None:
    """Friday 17:00 -> Monday 10:00 with 9-18 opening hours waited 2 hours, not 65."""
    events = [ev.ticket_created(ticket="w", channel="email", lang="fr", at=paris(6, 17), id="w1"),
              ev.ticket_update("ticket_replied", ticket="w", at=paris(9, 10), id="w2")]
    frt = record_and_read(redis_server.url, events, "2026-03-06", "2026-03-09")["first_response"]
    assert frt["human_ticket"] == {"n": 1, "median_s": 7200, "p90_s": 7200}


# -- resolved by the bot: one definition -------------------------------------------------------------


@pytest.mark.parametrize(("handed_off", "ticket_", "answered", "thumbs", "resolved"), [
    (False, False, True, None, True),
    (False, False, True, "up", True),
    (False, False, True, "down", False),     # answered, but the shopper said it did not help
    (False, False, False, None, False),      # contained: gave up silently, nothing answered
    (True, False, True, "up", False),        # a human was asked for
    (False, True, True, None, False),        # a ticket was written
])
def test_resolved_by_the_bot_is_one_rule(handed_off: bool, ticket_: bool, answered: bool, thumbs: str | None,
                                         resolved: bool) -> None:
    got = resolved_by_bot(handed_off=handed_off, ticket=ticket_, answered=answered, last_thumbs=thumbs)
    assert got is resolved


def test_bot_resolution_counts_what_the_rule_says(redis_server: RedisServer) -> None:
    def convo(cid: str, *, answer: bool, thumbs: bool | None = None, handoff: bool = False) -> list[ev.Event]:
        out = [ev.message_in(conversation=cid, channel="web", lang="fr", customer=cid, at=paris(3, 10),
                             id=f"{cid}1")]
        if answer:
            out.append(ev.faq_answered(conversation=cid, band="answer", score=0.9, entry="tracking-fr",
                                       reason=TRACKING, at=paris(3, 10, 0, 2), id=f"{cid}2"))
        if thumbs is not None:
            out.append(ev.thumbs(conversation=cid, up=thumbs, at=paris(3, 10, 1), id=f"{cid}3"))
        if handoff:
            out.append(ev.handoff("handoff_requested", conversation=cid, at=paris(3, 10, 2), id=f"{cid}4"))
        return out

    events = (convo("r1", answer=True) + convo("r2", answer=True, thumbs=True)
              + convo("n1", answer=True, thumbs=False) + convo("n2", answer=False)
              + convo("n3", answer=True, handoff=True))
    k = record_and_read(redis_server.url, events)
    assert k["bot_resolution"] == {"rate": 40.0, "resolved": 2, "conversations": 5}   # r1, r2
    assert k["containment"]["rate"] == 80.0                   # everything but n3 stayed with the bot


# -- a count and a low-data flag on every answer-based rate --------------------------------------------


def surveys(n: int) -> list[ev.Event]:
    """n conversations, each with a CSAT, an NPS, a CES answer and a thumbs vote, and an FCR contact."""
    out: list[ev.Event] = []
    for i in range(n):
        cid = f"s{i}"
        at = paris(2 + i % 5, 10, i % 60)
        out += [ev.message_in(conversation=cid, channel="web", lang="fr", customer=f"u{i}", reason=TRACKING,
                              at=at, id=f"{cid}-m"),
                ev.thumbs(conversation=cid, up=i % 3 != 0, at=at + timedelta(seconds=30), id=f"{cid}-t"),
                ev.survey_answered(survey="csat", score=5 if i % 2 else 2, conversation=cid,
                                   at=at + timedelta(minutes=1), id=f"{cid}-c"),
                ev.survey_answered(survey="nps", score=10 if i % 2 else 6, conversation=cid,
                                   at=at + timedelta(minutes=1), id=f"{cid}-n"),
                ev.survey_answered(survey="ces", score=6, conversation=cid, at=at + timedelta(minutes=1),
                                   id=f"{cid}-e")]
    return out


RATES = ("csat", "nps", "ces", "fcr", "thumbs")


@pytest.mark.parametrize(("answers", "low"), [(LOW_DATA_ANSWERS - 1, True), (LOW_DATA_ANSWERS, False),
                                              (3, True), (14, False)])
def test_every_answer_based_rate_says_how_many_and_when_too_few(redis_server: RedisServer, answers: int,
                                                                 low: bool) -> None:
    k = record_and_read(redis_server.url, surveys(answers))
    for name in RATES:
        assert k[name]["n"] == answers, name
        assert k[name]["low_data"] is low, name


def test_no_answer_is_low_data_and_no_rate(redis_server: RedisServer) -> None:
    k = record_and_read(redis_server.url, CHATS)
    for name in ("csat", "nps", "ces", "thumbs"):
        assert k[name]["n"] == 0 and k[name]["low_data"] is True, name
    assert k["csat"]["score"] is None and k["thumbs"]["up_rate"] is None


def test_per_reason_csat_and_ab_votes_carry_low_data(redis_server: RedisServer) -> None:
    async def job(r: aioredis.Redis) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        log = EventLog(r, hours=business_hours())
        for e in surveys(12):
            await log.append(e)
        for i in range(3):                       # three conversations on another reason, 3 answers
            cid = f"x{i}"
            await log.append(ev.message_in(conversation=cid, channel="web", lang="fr", customer=cid,
                                           reason=EXCHANGE, at=paris(4, 15, i), id=f"{cid}-m"))
            await log.append(ev.survey_answered(survey="csat", score=4, conversation=cid,
                                                at=paris(4, 15, i, 30), id=f"{cid}-c"))
        for i, variant in enumerate(["a"] * 12 + ["b"] * 3):   # an A/B test: 12 votes on a, 3 on b
            cid = f"v{i}"
            await log.append(ev.message_in(conversation=cid, channel="web", lang="fr", customer=cid,
                                           at=paris(5, 9, i), id=f"{cid}-m"))
            await log.append(ev.faq_answered(conversation=cid, band="answer", score=0.9, entry="tracking-fr",
                                             variant=variant, at=paris(5, 9, i, 5), id=f"{cid}-f"))
            await log.append(ev.thumbs(conversation=cid, up=True, at=paris(5, 9, i, 20), id=f"{cid}-t"))
        rows = await report.reasons(r, "2026-03-02", "2026-03-06", ReasonsConfig())
        return rows, await report.variants(r, "2026-03-02", "2026-03-06")

    rows, variants = on_redis(redis_server.url, flush=True, decode=True, job=job)
    by = {r["reason"]: r for r in rows}
    assert (by[TRACKING]["csat_answers"], by[TRACKING]["csat_low_data"]) == (12, False)
    assert (by[EXCHANGE]["csat_answers"], by[EXCHANGE]["csat_low_data"]) == (3, True)
    [ab] = variants
    assert (ab["variants"]["a"]["votes"], ab["variants"]["a"]["low_data"]) == (12, False)
    assert (ab["variants"]["b"]["votes"], ab["variants"]["b"]["low_data"]) == (3, True)


# -- trends only against a previous period with data ---------------------------------------------------


def reasons_of(redis_url: str, events: list[ev.Event]) -> dict[str, Any]:
    async def job(r: aioredis.Redis) -> dict[str, Any]:
        log = EventLog(r, hours=business_hours())
        for e in events:
            await log.append(e)
        rows, previous = await report.reasons_with_previous(r, "2026-03-09", "2026-03-13", ReasonsConfig())
        return {"rows": {row["reason"]: row for row in rows}, "previous": previous}
    return on_redis(redis_url, flush=True, decode=True, job=job)


def conversation(cid: str, day: int, reason: str) -> ev.Event:
    return ev.message_in(conversation=cid, channel="web", lang="fr", customer=cid, reason=reason,
                         at=paris(day, 11), id=cid)


def test_no_previous_period_no_trend_and_nothing_new(redis_server: RedisServer) -> None:
    out = reasons_of(redis_server.url, [conversation("a", 9, TRACKING), conversation("b", 10, EXCHANGE)])
    assert out["previous"] == {"start": "2026-03-04", "end": "2026-03-08", "conversations": 0}
    for row in out["rows"].values():
        assert row["trend"] is None and row["new"] is False and row["previous_volume"] is None


def test_previous_period_gives_trends_and_new_reasons(redis_server: RedisServer) -> None:
    before = [conversation("p1", 4, TRACKING), conversation("p2", 5, TRACKING)]    # 2 tracking
    now = [conversation("a", 9, TRACKING), conversation("b", 10, TRACKING), conversation("c", 11, TRACKING),
           conversation("d", 12, EXCHANGE)]                                         # 3 tracking, 1 exchange
    events = before + now
    out = reasons_of(redis_server.url, events)
    assert out["previous"]["conversations"] == 2
    tracking, exchange = out["rows"][TRACKING], out["rows"][EXCHANGE]
    assert tracking["trend"] == 50.0 and tracking["previous_volume"] == 2 and tracking["new"] is False
    assert exchange["trend"] is None and exchange["previous_volume"] == 0 and exchange["new"] is True
