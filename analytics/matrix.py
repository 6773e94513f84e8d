"""The value/irritant matrix of contact reasons ("The Best Service is No Service", Price & Jaffe;
seed article 001): each reason gets one of four actions.

- value: a judgment of the shop (config `contact_reasons.high_value`): is the contact worth having
  for the customer (advice before buying, a problem that needs a person) or would they rather
  not have had to ask (where is my parcel)?
- irritant: measured. The irritant index is the mean of the signals with enough answers:
  dissatisfied CSAT (1-3), thumbs down, repeat contact within 7 days on the same reason (FCR
  failures), hard effort (CES 1-3). It is high from `irritant_threshold` percent.

| value \\ irritant | low           | high                 |
|-------------------|---------------|----------------------|
| high              | keep human    | simplify             |
| low               | automate      | eliminate the cause  |
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shop.config import ReasonsConfig

from .kpi import bot_resolution, containment, csat, low_data, percent

MIN_ANSWERS = 5   # a signal with fewer answers in the period is not used (too noisy)

ACTIONS = {
    ("high", "low"): ("keep_human", "Keep human: a valuable contact, make it easy to reach a person"),
    ("high", "high"): ("simplify", "Simplify: the contact is needed but painful; cut the steps it takes"),
    ("low", "low"): ("automate", "Automate: routine question; answer it in the FAQ, the bot and the site"),
    ("low", "high"): ("eliminate",
                      "Eliminate the cause: fix what makes customers write (process, site, carrier)"),
}
# the counters a placement reads, per reason (names of analytics.kpi's vocabulary)
COUNTERS = ("conv", "conv_contained", "conv_bot_resolved", "conv_escalated", "thumbs_up", "thumbs_down",
            "fcr_contacts", "fcr_repeat", *(f"csat:{s}" for s in range(1, 6)),
            *(f"ces:{s}" for s in range(1, 8)))




def irritant_signals(counts: Mapping[str, float]) -> dict[str, float]:
    """The signals (percentages) with at least MIN_ANSWERS answers behind them."""
    def n(name: str) -> float:
        return counts.get(name, 0.0)

    signals: dict[str, float | None] = {}
    csat_n = sum(n(f"csat:{s}") for s in range(1, 6))
    if csat_n >= MIN_ANSWERS:
        signals["dissatisfied"] = percent(csat_n - n("csat:4") - n("csat:5"), csat_n)
    votes = n("thumbs_up") + n("thumbs_down")
    if votes >= MIN_ANSWERS:
        signals["thumbs_down"] = percent(n("thumbs_down"), votes)
    if n("fcr_contacts") >= MIN_ANSWERS:
        signals["repeat_contact"] = percent(n("fcr_repeat"), n("fcr_contacts"))
    ces_n = sum(n(f"ces:{s}") for s in range(1, 8))
    if ces_n >= MIN_ANSWERS:
        signals["hard_effort"] = percent(sum(n(f"ces:{s}") for s in range(1, 4)), ces_n)
    return {k: v for k, v in signals.items() if v is not None}


def place(reason: str, counts: Mapping[str, float], rules: ReasonsConfig,
          previous_volume: float | None = None) -> dict[str, Any]:
    """One reason's row: volume, containment, bot resolution, CSAT (with its answer count and
    `csat_low_data`), trend, irritant index, quadrant and action. Without any usable signal the
    irritant axis is unknown and so is the action ("measure").

    `previous_volume`: the reason's conversations in the previous period, 0 when it had none
    there, None when the previous period has no data at all. Only a previous period with data
    gives a trend: `trend` is the change in %, None (with `new` true) for a reason that was not
    there before, None (with `new` false) when there is nothing to compare with."""
    volume = counts.get("conv", 0.0)
    signals = irritant_signals(counts)
    irritant = sum(signals.values()) / len(signals) if signals else None
    value = rules.value_of(reason)
    level = None if irritant is None else ("high" if irritant >= rules.irritant_threshold else "low")
    action, advice = ACTIONS[(value, level)] if level else (
        "measure", "Measure first: not enough feedback on this reason in the period")
    scores = {s: int(counts.get(f"csat:{s}", 0)) for s in range(1, 6)}
    trend = None if not previous_volume else percent(volume - previous_volume, previous_volume)
    answers = sum(scores.values())
    return {
        "reason": reason, "volume": int(volume),
        "containment": containment(int(counts.get("conv_contained", 0)), int(volume)),
        "bot_resolution": bot_resolution(int(counts.get("conv_bot_resolved", 0)), int(volume)),
        "csat": csat(scores), "csat_answers": answers, "csat_low_data": low_data(answers),
        "trend": trend, "new": previous_volume == 0,
        "previous_volume": None if previous_volume is None else int(previous_volume),
        "value": value, "irritant": irritant, "irritant_level": level, "signals": signals,
        "action": action, "advice": advice, "few_data": volume < rules.min_conversations,
    }


def matrix(per_reason: Mapping[str, Mapping[str, float]], rules: ReasonsConfig,
           previous: Mapping[str, Mapping[str, float]] | None = None) -> list[dict[str, Any]]:
    """Rows for every reason with conversations, biggest volume first. `previous`: the reasons'
    counters in the previous period, None (or empty) when that period has no data: no trends."""
    def before(reason: str) -> float | None:
        return (previous[reason].get("conv", 0.0) if reason in previous else 0.0) if previous else None

    rows = [place(reason, counts, rules, before(reason))
            for reason, counts in per_reason.items() if counts.get("conv", 0) > 0]
    return sorted(rows, key=lambda r: (-r["volume"], r["reason"]))
