"""Pre-aggregation: which per-day counter fields an event or a conversation's facts feed.

A counter field is `{metric}|{channel}|{lang}|{reason}`; each of the three dimensions is also
rolled up as `*`, the reason also as `{category}/*`, so any filter combination is one field.
Conversation-level counters are derived from the conversation's facts: each append subtracts
the conversation's old contribution and adds the new one (analytics/log.py).
"""

from __future__ import annotations

from collections.abc import Mapping

from .kpi import duration_fields, resolved_by_bot

ALL = "*"
NONE = "-"  # a dimension not known (e.g. reason not detected yet)


# -- pre-aggregation --------------------------------------------------------------------------------


def rollup_fields(metric: str, channel: str, lang: str, reason: str) -> list[str]:
    """The day-hash fields one increment touches: every combination of each dimension and `*`, plus
    the reason's category (`returns/*`). A report with any filter then reads one field per metric."""
    reasons = [reason, ALL] if reason == NONE else [reason, reason.split("/", 1)[0] + "/*", ALL]
    return [f"{metric}|{c}|{la}|{r}" for c in (channel, ALL) for la in (lang, ALL) for r in reasons]


def field_for(metric: str, channel: str | None, lang: str | None, reason: str | None) -> str:
    """The one field holding `metric` under these filters (None = all). A reason filter without
    '/' ('returns') or ending in '/*' selects a whole category."""
    if reason and "/" not in reason:
        reason += "/*"
    return f"{metric}|{channel or ALL}|{lang or ALL}|{reason or ALL}"


Dims = tuple[str, str, str]  # channel, lang, reason


def fact(facts: Mapping[str, str], name: str) -> float | None:
    value = facts.get(name)
    return None if value in (None, "") else float(value)


def conversation_contribution(facts: Mapping[str, str]) -> list[tuple[str, Dims, str, float]]:
    """(day, dims, metric, value) a conversation adds to the counters, derived from its facts."""
    if facts.get("engaged") != "1":
        return []
    day = facts["day"]
    dims = (facts.get("channel") or NONE, facts.get("lang") or NONE, facts.get("reason") or NONE)
    handed, ticket = facts.get("handoff") == "1", facts.get("ticket") == "1"
    metrics: dict[str, float] = {"conv": 1}
    if handed:
        metrics["conv_handoff"] = 1
    if ticket:
        metrics["conv_ticket"] = 1
    if handed or ticket:
        metrics["conv_escalated"] = 1
    else:
        metrics["conv_contained"] = 1
    answered = fact(facts, "answered_s") is not None
    resolved = resolved_by_bot(handed_off=handed, ticket=ticket, answered=answered,
                               last_thumbs=facts.get("feedback"))
    if resolved:
        metrics["conv_bot_resolved"] = 1
    if facts.get("contact") == "1":
        metrics["fcr_contacts"] = 1
        if facts.get("repeat") == "1":
            metrics["fcr_repeat"] = 1
    for series, name in (("frt_bot", "bot_reply_s"), ("frt_chat", "agent_reply_s"), ("res_chat", "closed_s")):
        seconds = fact(facts, name)
        if seconds is not None:
            metrics.update(duration_fields(series, seconds))
    if resolved:
        metrics.update(duration_fields("res_bot", fact(facts, "answered_s") or 0.0))
    return [(day, dims, m, v) for m, v in metrics.items()]


def ticket_contribution(facts: Mapping[str, str]) -> list[tuple[str, Dims, str, float]]:
    """(day, dims, metric, value) a ticket adds: response/resolution times and SLA met/missed."""
    if not facts.get("day"):
        return []
    dims = (facts.get("channel") or NONE, facts.get("lang") or NONE, facts.get("reason") or NONE)
    metrics: dict[str, float] = {}
    for series, name in (("frt_ticket", "reply_s"), ("res_ticket", "solved_s")):
        seconds = fact(facts, name)
        if seconds is not None:
            metrics.update(duration_fields(series, seconds))
    due, handled = fact(facts, "due"), fact(facts, "handled_at")
    if due is not None and handled is not None:
        metrics["sla_met" if handled <= due else "sla_missed"] = 1
    return [(facts["day"], dims, m, v) for m, v in metrics.items()]


def variant_contribution(facts: Mapping[str, str]) -> list[tuple[str, str, int]]:
    """(day, variants field, value) a conversation adds to its A/B counters: it counts for the first
    answer variant it was shown (`ab` = entry|variant), and as contained if it stayed with the bot."""
    if facts.get("engaged") != "1" or not facts.get("ab"):
        return []
    out = [(facts["day"], f"{facts['ab']}|conv", 1)]
    if facts.get("handoff") != "1" and facts.get("ticket") != "1":
        out.append((facts["day"], f"{facts['ab']}|contained", 1))
    return out
