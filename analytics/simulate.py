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

from analytics.log import EventLog

from . import events as ev
from .ab import assign
from .events import Event
from .kpi import score_band

WEEKDAY = (1.35, 1.15, 1.05, 1.0, 0.95, 0.7, 0.5)           # Monday .. Sunday
HOURLY = np.array([1, 0.5, 0.3, 0.2, 0.2, 0.4, 1, 2, 4, 6, 7, 7, 6, 5, 5, 5, 5, 5, 5, 6, 7, 7, 5, 3],
                  dtype=float)
CHANNELS = (("web", 0.6), ("whatsapp", 0.25), ("messenger", 0.15))
LANGS = (("fr", 0.8), ("en", 0.2))
BANDS = (("answer", 0.64), ("suggest", 0.2), ("none", 0.16))
AGENTS = ("marie@shop.example", "karim@shop.example", "lea@shop.example")
UNANSWERED = ("livrez-vous au Canada ?", "emballage cadeau possible ?", "avez-vous une boutique à Paris",
              "programme de fidélité ?", "do you offer gift wrapping", "is there a loyalty program",
              "proposez-vous le montage des meubles ?", "can I pay with PayPal in 4 times")
DOWNVOTED = ("mon colis est bloqué depuis 10 jours", "le suivi ne marche pas",
             "my parcel is stuck in transit", "on m'a débité deux fois", "I was charged twice")
VERBATIMS = {
    "fr": {"low": ("Trop long pour avoir une réponse", "Le colis n'est toujours pas arrivé",
                   "J'ai dû répéter trois fois mon problème", "Réponse hors sujet"),
           "mid": ("Correct mais un peu lent", "Réponse claire, délai trop long"),
           "high": ("Rapide et efficace, merci !", "Conseillère très aimable", "Réponse immédiate")},
    "en": {"low": ("Took far too long", "Parcel still missing", "I had to explain everything twice"),
           "mid": ("Fine but slow", "OK answer, long wait"),
           "high": ("Quick and helpful, thanks!", "Great advice", "Instant answer")},
}
TOP_REASON = "delivery/tracking"
AB_ENTRY = "delivery-tracking-fr"            # the simulated A/B test: a shorter tracking answer
AB_VARIANTS = {"short": "(simulated shorter answer)"}
AB_UP = {"default": 0.72, "short": 0.86}


def irritation(reason: str) -> float:
    """How much a reason annoys customers in the simulation (0..1): delays and payment errors a
    lot, pre-purchase questions hardly, so the value/irritant matrix has all four quadrants."""
    leaf = reason.split("/", 1)[-1]
    if leaf in ("carrier-delay", "lost-parcel", "warehouse-delay", "double-charge", "refund-delay",
                "payment-declined", "missing-item", "damaged-item", "service-complaint"):
        return 0.75
    if reason.startswith(("pre-purchase", "account", "after-sales/care")):
        return 0.08
    return 0.22


def _pick(rng: np.random.Generator, options: Sequence[tuple[str, float]]) -> str:
    names, weights = zip(*options, strict=True)
    return str(rng.choice(names, p=np.array(weights) / sum(weights)))


def _why(rng: np.random.Generator, survey: str, score: int, lang: str, cid: str, at: datetime) -> list[Event]:
    """A "why" comment for about a third of survey answers."""
    if rng.random() >= 0.35:
        return []
    level = score_band(survey, score)
    key = "high" if level in ("promoter", "satisfied", "easy") else "mid" if level in ("passive", "neutral") \
        else "low"
    text = str(rng.choice(VERBATIMS[lang][key]))
    return [ev.survey_comment(survey=survey, score=score, verbatim=text, conversation=cid,
                              at=at + timedelta(seconds=20), id=f"sim:{cid}:why:{survey}")]


def conversation_events(rng: np.random.Generator, cid: str, start: datetime, reasons: Sequence[str],
                        reason_p: np.ndarray, customer: str, reason: str | None = None) -> list[Event]:
    """One conversation's events, in time order."""
    channel, lang = _pick(rng, CHANNELS), _pick(rng, LANGS)
    reason = reason or str(rng.choice(reasons, p=reason_p))
    irr = irritation(reason)
    t = start
    out = [ev.message_in(conversation=cid, channel=channel, lang=lang, customer=customer, reason=reason, at=t,
                         id=f"sim:{cid}:in")]
    band = _pick(rng, BANDS)
    entry = f"{reason.replace('/', '-')}-{lang}"
    variant = assign(cid, entry, AB_VARIANTS) if entry == AB_ENTRY and band == "answer" else None
    t += timedelta(seconds=float(rng.uniform(0.3, 1.5)))
    out.append(ev.faq_answered(conversation=cid, band=band, score=float(rng.uniform(0.2, 0.95)),
                               entry=entry if band == "answer" else None, variant=variant,
                               query=str(rng.choice(UNANSWERED)) if band != "answer" else None,
                               reason=reason if band != "none" else None, at=t, id=f"sim:{cid}:faq"))
    out.append(ev.message_out(conversation=cid, role="bot", at=t, id=f"sim:{cid}:bot"))
    if band == "suggest" and rng.random() < 0.6:
        t += timedelta(seconds=float(rng.uniform(5, 40)))
        out.append(ev.suggestion_clicked(conversation=cid, entry=entry, at=t, id=f"sim:{cid}:click"))
    up = None
    if band == "answer" and rng.random() < 0.45:
        t += timedelta(seconds=float(rng.uniform(5, 60)))
        up = bool(rng.random() < (AB_UP[variant] if variant else 0.92 - 0.45 * irr))
        out.append(ev.thumbs(conversation=cid, up=up, query=None if up else str(rng.choice(DOWNVOTED)), at=t,
                             id=f"sim:{cid}:thumbs"))
        if up and rng.random() < 0.4:   # the effort question asked after a "yes, that helped"
            score = int(rng.choice(range(1, 8), p=[0.01, 0.02, 0.04, 0.08, 0.15, 0.3, 0.4]))
            out.append(ev.survey_answered(survey="ces", score=score, conversation=cid, at=t,
                                          id=f"sim:{cid}:ces"))
            out += _why(rng, "ces", score, lang, cid, t)
    human = rng.random() < ((0.45 if up is False else 0.06) if band == "answer" else 0.35) * (0.6 + irr)
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
        if rng.random() < 0.5:
            low = 0.05 + 0.4 * irr
            p = np.array([low * 0.3, low * 0.3, low * 0.4, 0.35, 0.65 - low])
            score = int(rng.choice([1, 2, 3, 4, 5], p=p / p.sum()))
            out.append(ev.survey_answered(survey="csat", score=score, conversation=cid, at=t,
                                          id=f"sim:{cid}:csat"))
            out += _why(rng, "csat", score, lang, cid, t)
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
        if rng.random() < 0.3:   # the cold NPS link in the reply e-mail
            score = int(rng.choice(range(11), p=_NPS_P))
            out.append(ev.survey_answered(survey="nps", score=score, ticket=tid,
                                          at=reply + timedelta(hours=5), id=f"sim:{cid}:nps-link"))
    if rng.random() < 0.04:
        score = int(rng.choice(range(11), p=_NPS_P))
        out.append(ev.survey_answered(survey="nps", score=score, conversation=cid, at=t, id=f"sim:{cid}:nps"))
        out += _why(rng, "nps", score, lang, cid, t)
    return out


_NPS_P = np.array([1, 1, 1, 2, 2, 4, 6, 10, 14, 25, 34], dtype=float) / 100


def month(seed: int, days: int, end: date, per_day: int, reasons: Sequence[str],
          tz: str = "Europe/Paris") -> list[list[Event]]:
    """Every conversation's events for `days` days ending `end` (inclusive). Irritating reasons
    bring customers back (a follow-up on the same reason within days: FCR failures)."""
    rng = np.random.default_rng(seed)
    ranks = np.arange(1, len(reasons) + 1, dtype=float)
    reason_p = (1 / ranks ** 0.9) / (1 / ranks ** 0.9).sum()
    order = [r for r in reasons if r != TOP_REASON]
    rng.shuffle(order)
    if TOP_REASON in reasons:
        order.insert(0, TOP_REASON)   # "where is my parcel?" leads, as in every e-commerce support
    zone = ZoneInfo(tz)
    last = datetime(end.year, end.month, end.day, tzinfo=zone) + timedelta(days=1)
    customers = [f"web:sim-customer-{i}" for i in range(max(10, per_day * days // 3))]
    conversations = []
    for offset in range(days):
        day = end - timedelta(days=days - 1 - offset)
        n = int(rng.poisson(per_day * WEEKDAY[day.weekday()]))
        hours = rng.choice(24, size=n, p=HOURLY / HOURLY.sum())
        for i in range(n):
            start = datetime(day.year, day.month, day.day, int(hours[i]), tzinfo=zone) + timedelta(
                seconds=float(rng.uniform(0, 3600)))
            # the same draw as rng.choice(customers), without turning the list into an array each time
            cid, customer = f"sim-{day.isoformat()}-{i}", customers[int(rng.integers(0, len(customers)))]
            events = conversation_events(rng, cid, start.astimezone(UTC), order, reason_p, customer)
            conversations.append(events)
            reason = str(events[0].data["reason"])
            again = start + timedelta(days=float(rng.uniform(0.5, 5)))
            if rng.random() < 0.3 * irritation(reason) and again < last:
                conversations.append(conversation_events(rng, cid + "-again", again.astimezone(UTC), order,
                                                         reason_p, customer, reason=reason))
    return sorted(conversations, key=lambda c: c[0].at)


async def load(log: EventLog, conversations: list[list[Event]], *, concurrency: int = 32,
               progress: bool = True) -> int:
    """Append the events (conversations in parallel, each one's events in order, conversations
    taken in start order so that a customer's follow-up contact comes after the first one)."""
    queue = list(reversed(conversations))
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
