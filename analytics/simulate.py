"""A realistic synthetic month of support traffic, so the dashboard can be seen (and tested)
before a shop has real data: `python -m analytics simulate --days 30 --seed 1`.

Volumes follow the weekly and daily rhythm of e-commerce support (Monday peak, quiet Sunday,
late-morning and evening peaks), contact reasons follow a long tail over the KB's taxonomy,
some customers come back on the same reason (FCR), a share of conversations go to humans or
tickets, and surveys are answered. Same seed, same month.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from . import events as ev
from .events import Event, EventLog

WEEKDAY = (1.35, 1.15, 1.05, 1.0, 0.95, 0.7, 0.5)           # Monday .. Sunday
HOURLY = np.array([1, 0.5, 0.3, 0.2, 0.2, 0.4, 1, 2, 4, 6, 7, 7, 6, 5, 5, 5, 5, 5, 5, 6, 7, 7, 5, 3],
                  dtype=float)
CHANNELS = (("web", 0.6), ("whatsapp", 0.25), ("messenger", 0.15))
LANGS = (("fr", 0.8), ("en", 0.2))
BANDS = (("answer", 0.64), ("suggest", 0.2), ("none", 0.16))
AGENTS = ("marie@shop.example", "karim@shop.example", "lea@shop.example")
UNANSWERED = ("livrez-vous au Canada ?", "emballage cadeau possible ?", "avez-vous une boutique à Paris",
              "programme de fidélité ?", "do you offer gift wrapping", "is there a loyalty program")


def _pick(rng: np.random.Generator, options: Sequence[tuple[str, float]]) -> str:
    names, weights = zip(*options, strict=True)
    return str(rng.choice(names, p=np.array(weights) / sum(weights)))


def conversation_events(rng: np.random.Generator, cid: str, start: datetime, reasons: Sequence[str],
                        reason_p: np.ndarray, customer: str) -> list[Event]:
    """One conversation's events, in time order."""
    channel, lang = _pick(rng, CHANNELS), _pick(rng, LANGS)
    reason = str(rng.choice(reasons, p=reason_p))
    t = start
    out = [ev.message_in(conversation=cid, channel=channel, lang=lang, customer=customer, reason=reason, at=t,
                         id=f"sim:{cid}:in")]
    band = _pick(rng, BANDS)
    t += timedelta(seconds=float(rng.uniform(0.3, 1.5)))
    out.append(ev.faq_answered(conversation=cid, band=band, score=float(rng.uniform(0.2, 0.95)),
                               entry=f"{reason.replace('/', '-')}-{lang}" if band == "answer" else None,
                               query=str(rng.choice(UNANSWERED)) if band != "answer" else None,
                               reason=reason if band != "none" else None, at=t, id=f"sim:{cid}:faq"))
    out.append(ev.message_out(conversation=cid, role="bot", at=t, id=f"sim:{cid}:bot"))
    if band == "suggest" and rng.random() < 0.6:
        t += timedelta(seconds=float(rng.uniform(5, 40)))
        out.append(ev.suggestion_clicked(conversation=cid, entry=f"{reason.replace('/', '-')}-{lang}", at=t,
                                         id=f"sim:{cid}:click"))
    if band == "answer" and rng.random() < 0.35:
        t += timedelta(seconds=float(rng.uniform(5, 60)))
        out.append(ev.thumbs(conversation=cid, up=bool(rng.random() < 0.82), at=t, id=f"sim:{cid}:thumbs"))
    human = rng.random() < (0.08 if band == "answer" else 0.35)
    if human and rng.random() < 0.7:
        agent = str(rng.choice(AGENTS))
        t += timedelta(seconds=float(rng.uniform(10, 60)))
        out.append(ev.handoff("handoff_requested", conversation=cid, at=t, id=f"sim:{cid}:hreq"))
        t += timedelta(seconds=float(rng.exponential(180)))
        out.append(ev.handoff("handoff_claimed", conversation=cid, agent=agent, at=t, id=f"sim:{cid}:claim"))
        t += timedelta(seconds=float(rng.uniform(20, 120)))
        out.append(ev.message_out(conversation=cid, role="agent", at=t, id=f"sim:{cid}:agent"))
        t += timedelta(seconds=float(rng.exponential(600)))
        out.append(ev.handoff("handoff_closed", conversation=cid, agent=agent, at=t, id=f"sim:{cid}:close"))
        if rng.random() < 0.45:
            score = int(rng.choice([1, 2, 3, 4, 5], p=[0.05, 0.05, 0.12, 0.33, 0.45]))
            out.append(ev.survey_answered(survey="csat", score=score, conversation=cid, at=t,
                                          id=f"sim:{cid}:csat"))
        if rng.random() < 0.2:
            score = int(rng.choice(range(1, 8), p=[0.3, 0.3, 0.2, 0.1, 0.05, 0.03, 0.02]))
            out.append(ev.survey_answered(survey="ces", score=score, conversation=cid, at=t,
                                          id=f"sim:{cid}:ces"))
    elif human:
        tid = f"SIM-{cid}"
        due = t + timedelta(hours=float(rng.uniform(8, 40)))
        out.append(ev.ticket_created(ticket=tid, channel=channel, lang=lang, conversation=cid,
                                     customer=customer, reason=reason, due=due, at=t, id=f"sim:{cid}:ticket"))
        reply = t + timedelta(hours=float(rng.exponential(10)))
        out.append(ev.ticket_update("ticket_replied", ticket=tid, agent=str(rng.choice(AGENTS)), at=reply,
                                    id=f"sim:{cid}:reply"))
        out.append(ev.ticket_update("ticket_solved", ticket=tid, at=reply + timedelta(hours=2),
                                    id=f"sim:{cid}:solved"))
    if rng.random() < 0.04:
        out.append(ev.survey_answered(survey="nps", score=int(rng.choice(range(11), p=_NPS_P)),
                                      conversation=cid, at=t, id=f"sim:{cid}:nps"))
    return out


_NPS_P = np.array([1, 1, 1, 2, 2, 4, 6, 10, 14, 25, 34], dtype=float) / 100


def month(seed: int, days: int, end: date, per_day: int, reasons: Sequence[str],
          tz: str = "Europe/Paris") -> list[list[Event]]:
    """Every conversation's events for `days` days ending `end` (inclusive)."""
    rng = np.random.default_rng(seed)
    ranks = np.arange(1, len(reasons) + 1, dtype=float)
    reason_p = (1 / ranks ** 0.9) / (1 / ranks ** 0.9).sum()
    order = list(reasons)
    rng.shuffle(order)
    zone = ZoneInfo(tz)
    customers = [f"web:sim-customer-{i}" for i in range(max(10, per_day * days // 3))]
    conversations = []
    for offset in range(days):
        day = end - timedelta(days=days - 1 - offset)
        n = int(rng.poisson(per_day * WEEKDAY[day.weekday()]))
        hours = rng.choice(24, size=n, p=HOURLY / HOURLY.sum())
        for i in range(n):
            start = datetime(day.year, day.month, day.day, int(hours[i]), tzinfo=zone) + timedelta(
                seconds=float(rng.uniform(0, 3600)))
            cid = f"sim-{day.isoformat()}-{i}"
            conversations.append(conversation_events(rng, cid, start.astimezone(UTC), order, reason_p,
                                                     str(rng.choice(customers))))
    return conversations


async def load(log: EventLog, conversations: list[list[Event]], *, concurrency: int = 32,
               progress: bool = True) -> int:
    """Append the events (conversations in parallel, each one's events in order)."""
    queue = list(conversations)
    done = 0

    async def worker() -> None:
        nonlocal done
        while queue:
            for event in queue.pop():
                await log.append(event)
            done += 1
            if progress and done % 200 == 0:
                print(f"  {done}/{len(conversations)} conversations", flush=True)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return sum(len(c) for c in conversations)
