"""The feedback loop on a real Redis: A/B variants (per variant thumbs and containment), what the
FAQ missed (band none, unclicked suggestions, answers voted down), survey verbatims per reason,
and the value/irritant matrix of contact reasons."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as aioredis

from analytics import events as ev
from analytics import report
from analytics.kpi import score_band
from analytics.log import EventLog
from analytics.matrix import MIN_ANSWERS, irritant_signals, place
from ops.redis_server import RedisServer
from shop.config import ReasonsConfig
from tests.helpers import on_redis

from .helpers import business_hours, paris

TRACKING = "delivery/tracking"


def opened(cid: str, d: int, h: int, reason: str = TRACKING, customer: str = "u") -> ev.Event:
    return ev.message_in(conversation=cid, channel="web", lang="fr", customer=f"web:{customer}{cid}",
                         reason=reason, at=paris(d, h), id=f"{cid}-in")


# -- A/B variants ----------------------------------------------------------------------------------


def ab_events() -> list[ev.Event]:
    """10 conversations see variant default, 10 see variant short. default: 9 thumbs up of 10,
    2 handoffs; short: 3 up of 10, 6 handoffs. Thumbs carry no entry: the conversation's last
    answer is the one voted on."""
    out = []
    for i in range(20):
        cid, variant = f"c{i}", ("default" if i < 10 else "short")
        k = i % 10
        out += [opened(cid, 2, 10),
                ev.faq_answered(conversation=cid, band="answer", score=0.9, entry="tracking-fr",
                                variant=variant, at=paris(2, 10, 0, 1), id=f"{cid}-faq"),
                ev.thumbs(conversation=cid, up=(k < 9) if variant == "default" else (k < 3),
                          at=paris(2, 10, 1), id=f"{cid}-thumbs")]
        if (variant == "default" and k < 2) or (variant == "short" and k < 6):
            out.append(ev.handoff("handoff_requested", conversation=cid, at=paris(2, 10, 2), id=f"{cid}-h"))
    return out


def test_variants_report_thumbs_and_containment_per_variant(redis_server: RedisServer) -> None:
    async def scenario(r: aioredis.Redis) -> list[dict[str, Any]]:
        log = EventLog(r, hours=business_hours())
        for e in ab_events():
            await log.append(e)
        # an entry shown with one answer only is not an A/B test
        await log.append(opened("solo", 2, 11))
        await log.append(ev.faq_answered(conversation="solo", band="answer", score=0.9, entry="returns-fr",
                                         at=paris(2, 11, 0, 1), id="solo-faq"))
        return await report.variants(r, "2026-03-02", "2026-03-02")

    [row] = on_redis(redis_server.url, scenario, flush=True, decode=True)
    assert row["entry"] == "tracking-fr"
    assert list(row["variants"]) == ["default", "short"]   # the entry's own answer first
    d, s = row["variants"]["default"], row["variants"]["short"]
    assert (d["shown"], d["up"], d["down"], d["up_rate"]) == (10, 9, 1, 90.0)
    assert (s["shown"], s["up"], s["down"], s["up_rate"]) == (10, 3, 7, 30.0)
    assert (d["conv"], d["contained"], d["containment"]) == (10, 8, 80.0)
    assert (s["conv"], s["contained"], s["containment"]) == (10, 4, 40.0)
    # two-proportion z-test, pooled: 9/10 vs 3/10 -> z = 2.74, p = 0.0062
    assert row["thumbs_test"]["z"] == pytest.approx(2.7386, abs=1e-3)
    assert row["thumbs_test"]["p_value"] == pytest.approx(0.00617, abs=1e-4)
    assert row["thumbs_test"]["significant"] is True
    # 8/10 vs 4/10 -> z = 1.826, p = 0.0679: not significant at 5 %
    assert row["containment_test"]["p_value"] == pytest.approx(0.0679, abs=1e-3)
    assert row["containment_test"]["significant"] is False


# -- what the FAQ missed ---------------------------------------------------------------------------


def test_unanswered_keeps_misses_unclicked_suggestions_and_downvotes(redis_server: RedisServer) -> None:
    async def scenario(r: aioredis.Redis) -> list[dict[str, Any]]:
        log = EventLog(r, hours=business_hours())
        evs = [
            opened("n", 2, 10),
            ev.faq_answered(conversation="n", band="none", score=0.1,
                            query="livrez-vous au Canada ? mail a@b.fr", at=paris(2, 10, 0, 1), id="n-faq"),
            opened("s", 2, 11),   # a suggestion clicked: the FAQ did its job
            ev.faq_answered(conversation="s", band="suggest", score=0.6, query="mon colis ?", reason=TRACKING,
                            at=paris(2, 11, 0, 1), id="s-faq"),
            ev.suggestion_clicked(conversation="s", entry="tracking-fr", at=paris(2, 11, 1), id="s-click"),
            opened("u", 3, 9),    # suggestions ignored
            ev.faq_answered(conversation="u", band="suggest", score=0.6, query="emballage cadeau",
                            at=paris(3, 9, 0, 1), id="u-faq"),
            opened("d", 3, 10, reason="returns/exchange"),   # answered, voted down with the question
            ev.faq_answered(conversation="d", band="answer", score=0.9, entry="returns-fr",
                            query="échanger une taille", at=paris(3, 10, 0, 1), id="d-faq"),
            ev.thumbs(conversation="d", up=False, query="échanger une taille", at=paris(3, 10, 1), id="d-t"),
            opened("p", 3, 11),   # voted up: its question is not kept
            ev.faq_answered(conversation="p", band="answer", score=0.9, entry="returns-fr",
                            at=paris(3, 11, 0, 1), id="p-faq"),
            ev.thumbs(conversation="p", up=True, query="retour gratuit ?", at=paris(3, 11, 1), id="p-t"),
        ]
        for e in evs:
            await log.append(e)
        return await report.unanswered(r, "2026-03-02", "2026-03-03")

    rows = on_redis(redis_server.url, scenario, flush=True, decode=True)
    assert [(r["q"], r["why"]) for r in rows] == [
        ("livrez-vous au Canada ? mail [email]", "none"),
        ("emballage cadeau", "suggest"),
        ("échanger une taille", "thumbs_down"),
    ]
    assert rows[2]["entry"] == "returns-fr" and rows[2]["reason"] == "returns/exchange"


# -- verbatims -------------------------------------------------------------------------------------


def test_survey_comments_are_masked_and_filed_per_reason_and_band(redis_server: RedisServer) -> None:
    async def scenario(r: aioredis.Redis) -> dict[str, list[dict[str, Any]]]:
        log = EventLog(r, hours=business_hours())
        for e in [opened("a", 2, 10), opened("b", 2, 11, reason="returns/exchange"),
                  ev.survey_answered(survey="csat", score=2, conversation="a", at=paris(2, 10, 5), id="a-s"),
                  ev.survey_comment(survey="csat", score=2, conversation="a", at=paris(2, 10, 6), id="a-w",
                                    verbatim="Trop long, rappelez-moi au 06 12 34 56 78"),
                  ev.survey_comment(survey="nps", score=9, conversation="b", at=paris(2, 11, 6), id="b-w",
                                    verbatim="Super échange, merci"),
                  ev.survey_answered(survey="nps", score=3, ticket="T9", at=paris(4, 9), id="t-s",
                                     verbatim="jamais de réponse", reason=TRACKING)]:
            await log.append(e)
        return {"all": await report.verbatims(r, "2026-03-02", "2026-03-06"),
                "delivery": await report.verbatims(r, "2026-03-02", "2026-03-06", reason="delivery"),
                "nps": await report.verbatims(r, "2026-03-02", "2026-03-06", survey="nps"),
                "monday": await report.verbatims(r, "2026-03-02", "2026-03-02")}

    out = on_redis(redis_server.url, scenario, flush=True, decode=True)
    assert [v["text"] for v in out["all"]] == [
        "jamais de réponse", "Super échange, merci", "Trop long, rappelez-moi au [phone]"]
    first = out["all"][2]
    assert (first["survey"], first["score"], first["band"]) == ("csat", 2, "dissatisfied")
    assert first["reason"] == TRACKING
    assert "customer" not in first
    assert [v["text"] for v in out["delivery"]] == ["jamais de réponse", "Trop long, rappelez-moi au [phone]"]
    assert [v["band"] for v in out["nps"]] == ["detractor", "promoter"]
    assert len(out["monday"]) == 2


def test_survey_comment_validation() -> None:
    with pytest.raises(ValueError, match="empty verbatim"):
        ev.survey_comment(survey="csat", score=4, verbatim="   ", conversation="a")
    with pytest.raises(ValueError, match="needs a conversation or a ticket"):
        ev.survey_comment(survey="csat", score=4, verbatim="ok")
    with pytest.raises(ValueError, match="0..10"):
        ev.survey_comment(survey="nps", score=11, verbatim="ok", conversation="a")


@pytest.mark.parametrize(("survey", "score", "band"), [
    ("nps", 10, "promoter"), ("nps", 9, "promoter"), ("nps", 8, "passive"), ("nps", 7, "passive"),
    ("nps", 6, "detractor"), ("nps", 0, "detractor"), ("csat", 5, "satisfied"), ("csat", 4, "satisfied"),
    ("csat", 3, "neutral"), ("csat", 2, "dissatisfied"), ("csat", 1, "dissatisfied"),
    ("ces", 7, "easy"), ("ces", 5, "easy"), ("ces", 4, "neutral"), ("ces", 3, "hard"), ("ces", 1, "hard")])
def test_score_bands(survey: str, score: int, band: str) -> None:
    assert score_band(survey, score) == band


# -- value / irritant matrix -----------------------------------------------------------------------

RULES = ReasonsConfig(high_value=("pre-purchase", "returns/exchange"), irritant_threshold=25,
                    min_conversations=20)


def test_irritant_signals_need_enough_answers() -> None:
    counts = {"csat:5": 3, "csat:1": 1, "thumbs_up": 6, "thumbs_down": 4, "fcr_contacts": 40,
              "fcr_repeat": 10, "ces:2": 1, "ces:6": 3}
    # CSAT: 4 answers (< MIN_ANSWERS) and CES: 4 answers -> ignored
    assert MIN_ANSWERS == 5
    assert irritant_signals(counts) == {"thumbs_down": 40.0, "repeat_contact": 25.0}


@pytest.mark.parametrize(("reason", "counts", "action"), [
    # low value, happy, few repeats -> automate
    ("delivery/tracking", {"conv": 100, "thumbs_up": 45, "thumbs_down": 5, "fcr_contacts": 100,
                           "fcr_repeat": 4}, "automate"),
    # low value, repeats and thumbs down -> eliminate the cause: (50 + 40) / 2 = 45 % >= 25
    ("delivery/carrier-delay", {"conv": 80, "thumbs_up": 5, "thumbs_down": 5, "fcr_contacts": 80,
                                "fcr_repeat": 32}, "eliminate"),
    # high value (its category is listed), satisfied -> keep human
    ("pre-purchase/product-information", {"conv": 30, "csat:5": 8, "csat:4": 2}, "keep_human"),
    # high value (the leaf is listed), dissatisfied and hard -> simplify: CSAT 1-3 = 60 %, CES 1-3 = 100 %
    ("returns/exchange", {"conv": 30, "csat:2": 3, "csat:3": 3, "csat:5": 4, "ces:1": 5}, "simplify"),
    # no feedback at all -> measure first
    ("payment/invoice", {"conv": 50}, "measure"),
])
def test_place_picks_the_quadrant_action(reason: str, counts: dict[str, float], action: str) -> None:
    row = place(reason, counts, RULES)
    assert row["action"] == action
    assert row["value"] == ("high" if action in ("keep_human", "simplify") else "low")


def test_place_reports_volume_containment_csat_trend_and_few_data() -> None:
    counts = {"conv": 12, "conv_contained": 9, "csat:5": 3, "csat:4": 2, "csat:2": 1,
              "thumbs_up": 4, "thumbs_down": 1}
    row = place("delivery/tracking", counts, RULES, previous_volume=8)
    assert row["volume"] == 12 and row["containment"] == 75.0
    assert row["csat"] == pytest.approx(100 * 5 / 6) and row["csat_answers"] == 6
    assert row["trend"] == 50.0                   # 8 -> 12
    assert row["few_data"] is True                # 12 < 20 conversations
    assert row["irritant"] == pytest.approx((100 / 6 + 20.0) / 2)
    assert place("delivery/tracking", counts, RULES, previous_volume=0)["trend"] is None


def test_reasons_report_from_the_day_counters(redis_server: RedisServer) -> None:
    async def scenario(r: aioredis.Redis) -> list[dict[str, Any]]:
        log = EventLog(r, hours=business_hours())
        # the 5 days before (Feb 25 - Mar 1): 2 tracking conversations + 1 too early (Feb 24);
        # the period (Mar 2-6): 4 tracking, 1 exchange
        evs = [ev.message_in(conversation=f"old{d}", channel="web", lang="fr", customer=f"web:o{d}",
                             reason=TRACKING, at=paris(2, 10).replace(month=2, day=d), id=f"old{d}")
               for d in (24, 25, 26)]
        for i in range(4):
            evs += [opened(f"t{i}", 3, 9 + i),
                    ev.thumbs(conversation=f"t{i}", up=i != 0, at=paris(3, 9 + i, 1), id=f"t{i}-t")]
        evs += [opened("x", 4, 10, reason="returns/exchange"),
                ev.handoff("handoff_requested", conversation="x", at=paris(4, 10, 1), id="x-h")]
        for e in evs:
            await log.append(e)
        return await report.reasons(r, "2026-03-02", "2026-03-06", RULES)

    rows = on_redis(redis_server.url, scenario, flush=True, decode=True)
    assert [r["reason"] for r in rows] == [TRACKING, "returns/exchange"]
    tracking, exchange = rows
    assert tracking["volume"] == 4 and tracking["previous_volume"] == 2 and tracking["trend"] == 100.0
    assert tracking["containment"] == 100.0
    assert tracking["signals"] == {}              # 4 votes < MIN_ANSWERS
    assert tracking["action"] == "measure"
    assert exchange["volume"] == 1 and exchange["containment"] == 0.0 and exchange["value"] == "high"


# -- A/B assignment --------------------------------------------------------------------------------


def test_variant_assignment_is_stable_balanced_and_per_entry() -> None:
    from collections import Counter

    from analytics.ab import DEFAULT_VARIANT, answer_for, assign, variant_names

    variants = {"short": "Short.", "b": "B."}
    assert variant_names(variants) == [DEFAULT_VARIANT, "b", "short"]
    assert assign("c1", "e", {}) is None
    shares = Counter(assign(f"conv-{i}", "e", variants) for i in range(9000))
    assert set(shares) == {DEFAULT_VARIANT, "b", "short"}
    assert all(abs(n - 3000) < 200 for n in shares.values()), shares     # about a third each
    assert all(assign(f"conv-{i}", "e", variants) == assign(f"conv-{i}", "e", variants) for i in range(50))
    other = [assign(f"conv-{i}", "other", variants) for i in range(300)]
    assert other != [assign(f"conv-{i}", "e", variants) for i in range(300)]   # independent per entry
    assert answer_for("Long.", variants, "short") == "Short."
    assert answer_for("Long.", variants, DEFAULT_VARIANT) == "Long."
    assert answer_for("Long.", variants, "gone") == "Long."
