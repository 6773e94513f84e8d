"""Event log on a real Redis: validation, PII masking, pre-aggregated counters, idempotency, and
report.kpis over dates and filters against hand-computed values."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
import redis.asyncio as aioredis

from analytics import events as ev
from analytics import report
from analytics.events import EventKind
from analytics.log import META, SLA_PENDING, STREAM, EventLog
from kit.pii import pseudonymize
from ops.redis_server import RedisServer
from tests.helpers import on_redis

from .helpers import business_hours, paris

T = TypeVar("T")






# -- PII and validation ---------------------------------------------------------------------------


def test_event_validation() -> None:
    e = ev.survey_answered(survey="csat", score=4, conversation="c1",
                           verbatim="écrivez-moi à a.b@x.fr ou au 0612345678, merci !")
    assert e.get("verbatim") == "écrivez-moi à [email] ou au [phone], merci !"
    with pytest.raises(ValueError, match="unknown fields"):
        ev.make_event("message_in", conversation="c", channel="web", lang="fr", customer="u", text="hello")
    with pytest.raises(ValueError, match="missing"):
        ev.make_event("message_in", conversation="c", channel="web", lang="fr")
    with pytest.raises(ValueError, match="1..5"):
        ev.survey_answered(survey="csat", score=6, conversation="c")
    with pytest.raises(ValueError, match="0..10"):
        ev.survey_answered(survey="nps", score=11, conversation="c")
    with pytest.raises(ValueError, match="conversation or a ticket"):
        ev.survey_answered(survey="ces", score=3)
    with pytest.raises(ValueError, match="entry"):
        ev.faq_answered(conversation="c", band="answer", score=0.9)
    with pytest.raises(ValueError, match="band"):
        ev.faq_answered(conversation="c", band="maybe", score=0.9)
    with pytest.raises(ValueError, match="reason"):
        ev.handoff("handoff_requested", conversation="c", reason="Returns|x")
    with pytest.raises(ValueError, match="role"):
        ev.message_out(conversation="c", role="system")
    # the question is kept (masked) only when the bot could not answer it
    assert ev.faq_answered(conversation="c", band="none", score=0.1, query="colis 0612345678").get("query") \
        == "colis [phone]"
    answered = ev.faq_answered(conversation="c", band="answer", score=0.9, entry="e", query="q")
    assert answered.get("query") is None
    # round trip through the stream's flat fields
    t = ev.thumbs(conversation="c", up=False, entry="e", variant="b", at=paris(2, 10))
    assert ev.Event.from_fields(t.to_fields()) == t


# -- event log --------------------------------------------------------------------------------------


def test_append_counts_once_and_masks(redis_server: RedisServer) -> None:
    async def scenario(r: aioredis.Redis) -> None:
        log = EventLog(r, hours=business_hours(), secret="test-secret")
        first = ev.message_in(conversation="c1", channel="whatsapp", lang="fr",
                              customer="whatsapp:33612345678", at=paris(2, 10), id="wamid.1")
        assert await log.append(first) is True
        assert await log.append(first) is False  # retried delivery: no double count
        survey = ev.survey_answered(survey="csat", score=5, conversation="c1", at=paris(2, 10, 5),
                                    verbatim="Super ! mon mail jean@example.com, carte 4111 1111 1111 1111, "
                                             "tel +33 6 12 34 56 78")
        assert await log.append(survey) is True
        assert await log.append(survey) is False

        day = await r.hgetall("support:analytics:day:2026-03-02")
        assert day["msg_in|whatsapp|fr|-"] == "1"
        assert day["msg_in|*|*|*"] == "1"
        assert day["msg_in|whatsapp|*|*"] == "1" and day["msg_in|*|fr|*"] == "1"
        assert day["conv|*|*|*"] == "1"
        assert day["csat:5|whatsapp|fr|-"] == "1"
        assert await r.xlen(STREAM) == 2

        stored = await log.read()
        assert [e.kind for e in stored] == [EventKind.MESSAGE_IN, EventKind.SURVEY_ANSWERED]
        assert stored[1].get("verbatim") == "Super ! mon mail [email], carte [card], tel [phone]"
        customer = stored[0].get("customer")
        assert customer.startswith("cust_") and customer == pseudonymize("whatsapp:33612345678",
                                                                           b"test-secret")
        # no raw personal data anywhere in Redis
        for key in await r.keys("*"):
            assert "33612345678" not in key
            kind = await r.type(key)
            if kind == "hash":
                blob = str(await r.hgetall(key))
            elif kind == "stream":       # the entries' fields: an entry's id is a timestamp, digits that
                blob = str([fields for _, fields in await r.xrange(key)])   # may well contain "4111"
            else:
                continue
            for secret in ("33612345678", "+33 6", "jean@example.com", "4111"):
                assert secret not in blob, (key, secret)
        assert await log.read(since=paris(2, 10, 1)) == stored[1:]
        assert await log.read(until=paris(2, 10, 1)) == stored[:1]

    on_redis(redis_server.url, flush=True, decode=True, job=scenario)


def test_concurrent_appends_on_one_conversation(redis_server: RedisServer) -> None:
    async def scenario(r: aioredis.Redis) -> None:
        log = EventLog(r)
        batch = [ev.message_in(conversation="c", channel="web", lang="fr", customer="u", at=paris(2, 10, i))
                 for i in range(25)]
        batch += [ev.faq_answered(conversation="c", band="answer", score=0.9, entry="e",
                                  reason="delivery/tracking", at=paris(2, 10, 30 + i)) for i in range(5)]
        results = await asyncio.gather(*(log.append(e) for e in batch + batch))
        assert sum(results) == len(batch)  # each event id counted once, whatever the interleaving
        day = await r.hgetall("support:analytics:day:2026-03-02")
        assert day["msg_in|*|*|*"] == "25"
        assert day["faq_answer|*|*|*"] == "5"
        assert day["conv|*|*|*"] == "1"
        assert day["conv|web|fr|delivery/tracking"] == "1" and day.get("conv|web|fr|-", "0") == "0"
        assert day["fcr_contacts|*|*|delivery/*"] == "1"

    on_redis(redis_server.url, flush=True, decode=True, job=scenario)


def test_an_append_planned_on_stale_facts_plans_again(redis_server: RedisServer) -> None:
    """Between an append's read and its write another append changes the conversation: the
    first one's write is refused as a whole and planned again on the new facts, so the
    conversation is counted once and both events are."""
    async def scenario(r: aioredis.Redis) -> None:
        log = EventLog(r)
        first = ev.message_in(conversation="c", channel="web", lang="fr", customer="u", at=paris(2, 10),
                              id="m1")
        late = ev.faq_answered(conversation="c", band="answer", score=0.9, entry="e",
                               reason="delivery/tracking", at=paris(2, 10, 1), id="f1")
        plans = 0
        real_plan = log._plan

        async def plan_then_interleave(*args: Any) -> Any:
            nonlocal plans
            plans += 1
            planned = await real_plan(*args)
            if plans == 1:   # the other append lands while this one is planned
                assert await EventLog(r).append(first)
            return planned

        log._plan = plan_then_interleave  # type: ignore[method-assign]
        assert await log.append(late)
        assert plans == 2
        day = await r.hgetall("support:analytics:day:2026-03-02")
        assert day["msg_in|*|*|*"] == "1" and day["faq_answer|*|*|*"] == "1"
        assert day["conv|*|*|*"] == "1" and day["conv|web|fr|delivery/tracking"] == "1"
        assert day.get("conv|web|fr|-", "0") == "0"   # moved to its reason, not counted twice
        assert (await r.hgetall("support:analytics:conv:c"))["rev"] == "2"
        assert await r.xlen(STREAM) == 2
        assert not await log.append(late)   # a retry of an event already counted changes nothing
        assert await r.xlen(STREAM) == 2

    on_redis(redis_server.url, flush=True, decode=True, job=scenario)


def test_the_write_script_runs_only_append_writes(redis_server: RedisServer) -> None:
    async def scenario(r: aioredis.Redis) -> None:
        log = EventLog(r)
        with pytest.raises(aioredis.ResponseError, match="FLUSHALL is not an append write"):
            await log._apply(keys=["seen:x", "k"], args=['[[], [["FLUSHALL", 2]]]'])
        assert not await r.exists("seen:x")

    on_redis(redis_server.url, flush=True, decode=True, job=scenario)


def scenario_events() -> list[ev.Event]:
    """Four conversations and two tickets, Monday 2 to Friday 6 March 2026 (Paris, Mon-Fri 9-18)."""
    tracking, refund = "delivery/tracking", "returns/refund-delay"
    e: list[ev.Event] = []
    # A - web/fr, customer u1, Monday 10:00: answered by the bot, thumbs up -> contained & resolved
    e += [ev.message_in(conversation="A", channel="web", lang="fr", customer="u1", at=paris(2, 10), id="a1"),
          ev.faq_answered(conversation="A", band="answer", score=0.91, entry="tracking-fr", variant="a",
                          reason=tracking, at=paris(2, 10, 0, 2), id="a2"),
          ev.message_out(conversation="A", role="bot", at=paris(2, 10, 0, 2), id="a3"),
          ev.thumbs(conversation="A", up=True, entry="tracking-fr", variant="a", at=paris(2, 10, 1), id="a4"),
          ev.survey_answered(survey="csat", score=5, conversation="A", at=paris(2, 10, 2), id="a5"),
          ev.survey_answered(survey="nps", score=10, conversation="A", at=paris(2, 10, 2), id="a6"),
          ev.survey_answered(survey="ces", score=6, conversation="A", at=paris(2, 10, 2), id="a7")]
    # B - web/fr, u2, Monday 11:00: bot cannot answer, handoff (reason known only then),
    # agent answers after 30 min, closes after 1 h
    e += [ev.message_in(conversation="B", channel="web", lang="fr", customer="u2", at=paris(2, 11), id="b1"),
          ev.faq_answered(conversation="B", band="none", score=0.2, query="ou est mon rembourssement",
                          at=paris(2, 11, 0, 1), id="b2"),
          ev.message_out(conversation="B", role="bot", at=paris(2, 11, 0, 1), id="b3"),
          ev.handoff("handoff_requested", conversation="B", reason=refund, at=paris(2, 11, 1), id="b4"),
          ev.handoff("handoff_claimed", conversation="B", agent="ana@shop.fr", at=paris(2, 11, 20), id="b5"),
          ev.message_out(conversation="B", role="agent", at=paris(2, 11, 31), id="b6"),
          ev.handoff("handoff_closed", conversation="B", agent="ana@shop.fr", at=paris(2, 12, 1), id="b7"),
          ev.survey_answered(survey="csat", score=2, conversation="B", at=paris(2, 12, 5), id="b8"),
          ev.survey_answered(survey="nps", score=3, conversation="B", at=paris(2, 12, 5), id="b9"),
          ev.survey_answered(survey="ces", score=2, conversation="B", at=paris(2, 12, 5), id="b10")]
    # C - whatsapp/en, u3, Tuesday 20:00 (closed): suggestions, then a ticket due Wednesday 17:00,
    # replied Wednesday 10:00 (1 business hour), solved 11:00 (2 business hours)
    e += [ev.message_in(conversation="C", channel="whatsapp", lang="en", customer="whatsapp:447700900123",
                        at=paris(3, 20), id="c1"),
          ev.faq_answered(conversation="C", band="suggest", score=0.6, reason=tracking, at=paris(3, 20, 0, 5),
                          id="c2"),
          ev.message_out(conversation="C", role="bot", at=paris(3, 20, 0, 5), id="c3"),
          ev.ticket_created(ticket="T1", conversation="C", channel="whatsapp", lang="en", at=paris(3, 20, 2),
                            id="c4"),
          ev.ticket_update("ticket_replied", ticket="T1", agent="bob", at=paris(4, 10), id="c5"),
          ev.ticket_update("ticket_solved", ticket="T1", agent="bob", at=paris(4, 11), id="c6"),
          ev.survey_answered(survey="nps", score=8, ticket="T1", at=paris(4, 12), id="c7")]
    # D - web/fr, u1 again on the same reason, Friday 9:00 (within 7 days of A): A is not an FCR;
    # answered but thumbs down -> contained, not resolved
    e += [ev.message_in(conversation="D", channel="web", lang="fr", customer="u1", at=paris(6, 9), id="d1"),
          ev.faq_answered(conversation="D", band="answer", score=0.88, entry="tracking-fr", variant="b",
                          reason=tracking, at=paris(6, 9, 0, 3), id="d2"),
          ev.message_out(conversation="D", role="bot", at=paris(6, 9, 0, 3), id="d3"),
          ev.thumbs(conversation="D", up=False, entry="tracking-fr", variant="b", at=paris(6, 9, 2), id="d4")]
    # T2 - web/fr ticket from the contact form, Friday 17:00, due Monday 16:00, never answered
    e += [ev.ticket_created(ticket="T2", channel="web", lang="fr", reason="returns/exchange",
                            customer="shopper@example.com", at=paris(6, 17), id="t2")]
    return e


AS_OF = paris(20, 12)


def test_report_kpis_over_dates_and_filters(redis_server: RedisServer) -> None:
    async def scenario(r: aioredis.Redis) -> dict[str, Any]:
        log = EventLog(r, hours=business_hours())
        evs = scenario_events()
        assert all([await log.append(e) for e in evs])
        assert not any([await log.append(e) for e in evs])  # a full replay changes nothing
        out: dict[str, Any] = {}
        out["all"] = await report.kpis(r, "2026-03-02", "2026-03-06", as_of=AS_OF)
        out["web"] = await report.kpis(r, "2026-03-02", "2026-03-06", channel="web", as_of=AS_OF)
        out["tracking"] = await report.kpis(r, "2026-03-02", "2026-03-06", reason="delivery/tracking",
                                            as_of=AS_OF)
        out["delivery"] = await report.kpis(r, "2026-03-02", "2026-03-06", reason="delivery", as_of=AS_OF)
        out["en"] = await report.kpis(r, "2026-03-02", "2026-03-06", lang="en", as_of=AS_OF)
        out["monday"] = await report.kpis(r, "2026-03-02", "2026-03-02", as_of=AS_OF)
        out["early"] = await report.kpis(r, "2026-03-02", "2026-03-06", as_of=paris(10, 0))
        out["top"] = await report.breakdown(r, "2026-03-02", "2026-03-06", "reason")
        out["variants"] = await report.variants(r, "2026-03-02", "2026-03-06", "tracking-fr")
        return out

    out = on_redis(redis_server.url, flush=True, decode=True, job=scenario)
    k = out["all"]
    assert k["period"] == {"start": "2026-03-02", "end": "2026-03-06", "days": 5, "tz": "Europe/Paris"}
    assert k["volume"]["conversations"] == 4
    assert k["volume"]["messages_in"] == 4 and k["volume"]["tickets_created"] == 2
    assert k["containment"] == {"rate": 50.0, "contained": 2, "conversations": 4}       # A, D
    assert k["bot_resolution"]["resolved"] == 1                                         # A (D: thumbs down)
    assert k["handoff"]["rate"] == 25.0 and k["ticket"]["rate"] == 25.0                 # B; C
    assert k["faq_bands"]["counts"] == {"answer": 2, "suggest": 1, "none": 1}
    assert k["faq_bands"]["rates"]["answer"] == 50.0
    assert k["thumbs"] == {"up_rate": 50.0, "up": 1, "down": 1, "n": 2, "low_data": True}
    assert k["fcr"]["rate"] == 75.0 and k["fcr"]["contacts"] == 4 and k["fcr"]["repeated"] == 1  # A
    assert k["fcr"]["n"] == 4 and k["fcr"]["low_data"]
    assert k["fcr"]["pending_days"] == 0
    frt, res = k["first_response"], k["resolution"]
    # bot 2, 1, 5, 3 s: rank 2 of 4 (1, 2, 3, 5) sits in the (0, 5] bucket with all four values
    assert frt["bot"] == {"n": 4, "median_s": pytest.approx(2.5), "p90_s": pytest.approx(5)}
    # one value each, at a bucket's upper edge: read exactly
    assert frt["human_chat"] == {"n": 1, "median_s": 1800, "p90_s": 1800}    # B: 11:01 -> 11:31
    assert frt["human_ticket"] == {"n": 1, "median_s": 3600, "p90_s": 3600}  # T1: Tue 20:02 -> Wed 10:00
    assert "human" not in frt and "human" not in res      # chats and tickets are never averaged together
    assert res["bot"] == {"n": 1, "median_s": pytest.approx(5), "p90_s": pytest.approx(5)}  # A only: 2 s
    assert res["human_chat"]["median_s"] == 3600 and res["human_ticket"]["median_s"] == 7200
    assert k["sla"] == {"rate": 50.0, "met": 1, "missed": 1, "overdue_open": 1}  # T1 met, T2 overdue
    assert k["csat"]["score"] == 50.0 and k["csat"]["n"] == 2 and k["csat"]["low_data"]
    assert k["nps"]["score"] == 0 and k["nps"]["n"] == 3   # 10, 3, 8: 1 promoter - 1 detractor
    assert k["ces"]["score"] == 4.0

    web = out["web"]
    assert web["volume"]["conversations"] == 3
    assert web["containment"]["rate"] == pytest.approx(200 / 3)
    assert web["fcr"]["rate"] == pytest.approx(200 / 3)            # A repeated; B, D fine
    assert web["sla"] == {"rate": 0.0, "met": 0, "missed": 1, "overdue_open": 1}  # T2 only
    assert web["csat"]["score"] == 50.0 and web["nps"]["score"] == 0
    assert web["first_response"]["human_ticket"] is None

    for name in ("tracking", "delivery"):  # leaf and its category give the same here
        t = out[name]
        assert t["volume"]["conversations"] == 3, name               # A, C, D
        assert t["containment"]["contained"] == 2 and t["ticket"]["conversations_with_ticket"] == 1
        assert t["handoff"]["conversations_handed_off"] == 0
        assert t["fcr"]["rate"] == pytest.approx(200 / 3)
        assert t["sla"]["met"] == 1 and t["sla"]["missed"] == 0      # T1 inherited C's reason
        assert t["nps"]["score"] == 50                                # A 10, C 8

    en = out["en"]
    assert en["volume"]["conversations"] == 1 and en["containment"]["rate"] == 0.0
    assert en["sla"]["rate"] == 100.0 and en["csat"]["score"] is None

    mon = out["monday"]
    assert mon["volume"]["conversations"] == 2 and mon["containment"]["rate"] == 50.0
    assert mon["fcr"]["rate"] == 50.0  # A (repeated on Friday) and B
    assert mon["sla"]["met"] == 0 and mon["sla"]["missed"] == 0

    early = out["early"]  # 10 March 00:00: only Monday's 7-day windows have all closed
    assert early["fcr"]["settled_until"] == "2026-03-02" and early["fcr"]["pending_days"] == 4
    assert early["fcr"]["contacts"] == 2 and early["fcr"]["rate"] == 50.0

    assert out["top"] == {"delivery/tracking": 3, "returns/refund-delay": 1}
    [v] = out["variants"]
    assert v["entry"] == "tracking-fr"
    assert v["variants"]["a"] == {"shown": 1, "up": 1, "down": 0, "votes": 1, "up_rate": 100.0,
                                  "low_data": True, "conv": 1, "contained": 1, "containment": 100.0}
    assert v["variants"]["b"] == {"shown": 1, "up": 0, "down": 1, "votes": 1, "up_rate": 0.0,
                                  "low_data": True, "conv": 1, "contained": 1, "containment": 100.0}
    assert v["thumbs_test"]["a"] == "a" and v["thumbs_test"]["p_value"] == pytest.approx(0.1573, abs=1e-4)
    assert not v["thumbs_test"]["significant"]


def test_report_reads_only_day_counters(redis_server: RedisServer) -> None:
    """The report gives the same answer once the raw stream and facts are gone: it never scans them."""
    async def scenario(r: aioredis.Redis) -> tuple[dict[str, Any], dict[str, Any]]:
        log = EventLog(r, hours=business_hours())
        for e in scenario_events():
            await log.append(e)
        before = await report.kpis(r, "2026-03-01", "2026-03-31", as_of=AS_OF)
        keep = {META, SLA_PENDING}
        for key in await r.keys("support:analytics:*"):
            if key not in keep and not key.startswith(("support:analytics:day:",
                                                        "support:analytics:ticket:")):
                await r.delete(key)
        after = await report.kpis(r, "2026-03-01", "2026-03-31", as_of=AS_OF)
        return before, after

    before, after = on_redis(redis_server.url, flush=True, decode=True, job=scenario)
    assert before == after
    assert before["volume"]["conversations"] == 4


def test_reason_learnt_late_moves_the_conversation(redis_server: RedisServer) -> None:
    async def scenario(r: aioredis.Redis) -> dict[str, str]:
        log = EventLog(r)
        await log.append(ev.message_in(conversation="x", channel="web", lang="fr", customer="u",
                                       at=paris(2, 9)))
        await log.append(ev.handoff("handoff_requested", conversation="x", at=paris(2, 9, 5)))
        await log.append(ev.handoff("handoff_claimed", conversation="x", reason="payment/double-charge",
                                    at=paris(2, 9, 6)))
        return await r.hgetall("support:analytics:day:2026-03-02")

    day = on_redis(redis_server.url, flush=True, decode=True, job=scenario)
    assert day["conv_handoff|web|fr|payment/double-charge"] == "1"
    assert day["conv_handoff|web|fr|payment/*"] == "1"
    assert day.get("conv_handoff|web|fr|-", "0") == "0"
    assert day["conv_handoff|*|*|*"] == "1"
    assert day.get("conv_contained|*|*|*", "0") == "0"


def test_report_rejects_bad_ranges(redis_server: RedisServer) -> None:
    async def scenario(r: aioredis.Redis) -> None:
        with pytest.raises(ValueError):
            await report.kpis(r, "2026-03-05", "2026-03-01")
        empty = await report.kpis(r, "2026-01-01", "2026-01-31", as_of=AS_OF)
        assert empty["volume"]["conversations"] == 0 and empty["nps"]["score"] is None
        assert empty["sla"]["rate"] is None

    on_redis(redis_server.url, flush=True, decode=True, job=scenario)


def test_day_follows_the_shop_time_zone(redis_server: RedisServer) -> None:
    async def scenario(r: aioredis.Redis) -> list[str]:
        log = EventLog(r, tz="Europe/Paris")
        # 23:30 UTC on 2 March is already 3 March in Paris
        at = datetime(2026, 3, 2, 23, 30, tzinfo=ZoneInfo("UTC"))
        await log.append(ev.message_in(conversation="z", channel="web", lang="fr", customer="u", at=at))
        return sorted(k for k in await r.keys("support:analytics:day:*"))

    days = on_redis(redis_server.url, flush=True, decode=True, job=scenario)
    assert days == ["support:analytics:day:2026-03-03"]


def test_tickets_sla_without_hours_needs_explicit_due(redis_server: RedisServer) -> None:
    async def scenario(r: aioredis.Redis) -> dict[str, Any]:
        log = EventLog(r)  # no calendar: wall-clock times, SLA only with explicit due
        t0 = paris(2, 10)
        await log.append(ev.ticket_created(ticket="t", channel="email", lang="fr", at=t0,
                                           due=t0 + timedelta(hours=4)))
        await log.append(ev.ticket_update("ticket_replied", ticket="t", at=t0 + timedelta(hours=5)))
        await log.append(ev.ticket_created(ticket="u", channel="email", lang="fr", at=t0))
        await log.append(ev.ticket_update("ticket_replied", ticket="u", at=t0 + timedelta(hours=1)))
        return await report.kpis(r, "2026-03-02", "2026-03-02", as_of=AS_OF)

    k = on_redis(redis_server.url, flush=True, decode=True, job=scenario)
    assert k["sla"] == {"rate": 0.0, "met": 0, "missed": 1, "overdue_open": 0}
    assert k["first_response"]["human_ticket"]["n"] == 2                      # 5 h and 1 h
    assert k["first_response"]["human_ticket"]["median_s"] == 3600


def test_a_corrected_ticket_reason_moves_the_ticket_and_is_counted(redis_server: RedisServer) -> None:
    """Issue 19: an agent files a ticket under another reason; the matrix counts it there."""
    async def scenario(r: aioredis.Redis) -> tuple[dict[str, str], dict[str, Any]]:
        log = EventLog(r)
        t0 = paris(2, 10)
        await log.append(ev.ticket_created(ticket="t9", channel="web", lang="fr", reason="payment/methods",
                                           at=t0, due=t0 + timedelta(hours=8)))
        await log.append(ev.ticket_reason_corrected(ticket="t9", reason="delivery/damaged", agent="ann",
                                                    at=t0 + timedelta(minutes=5)))
        day = await r.hgetall("support:analytics:day:2026-03-02")
        return day, await report.kpis(r, "2026-03-02", "2026-03-02", as_of=AS_OF)

    day, kpis = on_redis(redis_server.url, flush=True, decode=True, job=scenario)
    assert day["ticket_created|web|fr|delivery/damaged"] == "1"            # moved, not copied
    assert day.get("ticket_created|web|fr|payment/methods", "0") == "0"
    assert day["ticket_created|*|*|*"] == "1"
    assert kpis["volume"]["ticket_reasons_corrected"] == 1
    assert kpis["volume"]["tickets_created"] == 1
