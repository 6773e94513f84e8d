"""Analytics events: the kinds, their fields, validation and typed constructors.

Privacy: events keep ids and categories only; customer and agent ids are pseudonymised by
the event log before anything is stored (analytics/log.py), and the only free text allowed
(survey verbatims, questions the bot could not answer) is masked for e-mails, phone numbers
and card numbers here, when the event is built.
"""

from __future__ import annotations

import math
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from kit.pii import mask_pii
from kit.redis import text

from .kpi import SURVEY_RANGES

QUERY_MAX = 300
VERBATIM_MAX = 2000


class EventKind(StrEnum):
    MESSAGE_IN = "message_in"
    MESSAGE_OUT = "message_out"
    FAQ_ANSWERED = "faq_answered"
    SUGGESTION_CLICKED = "suggestion_clicked"
    THUMBS = "thumbs"
    HANDOFF_REQUESTED = "handoff_requested"
    HANDOFF_CLAIMED = "handoff_claimed"
    HANDOFF_CLOSED = "handoff_closed"
    HANDOFF_REOPENED = "handoff_reopened"   # an agent took a closed conversation back
    TICKET_CREATED = "ticket_created"
    TICKET_REPLIED = "ticket_replied"
    TICKET_SOLVED = "ticket_solved"
    TICKET_REASON_CORRECTED = "ticket_reason_corrected"   # an agent filed the ticket elsewhere
    SURVEY_ANSWERED = "survey_answered"
    SURVEY_COMMENT = "survey_comment"


K = EventKind
# kind -> (required fields, optional fields). channel, lang and reason are optional on every kind
# (taken from the conversation / ticket facts when missing) except where listed as required.
SPEC: dict[EventKind, tuple[tuple[str, ...], tuple[str, ...]]] = {
    K.MESSAGE_IN: (("conversation", "channel", "lang", "customer"), ()),
    K.MESSAGE_OUT: (("conversation", "role"), ()),
    K.FAQ_ANSWERED: (("conversation", "band", "score"), ("entry", "variant", "query")),
    K.SUGGESTION_CLICKED: (("conversation", "entry"), ("variant",)),
    K.THUMBS: (("conversation", "up"), ("entry", "variant", "query")),
    K.HANDOFF_REQUESTED: (("conversation",), ()),
    K.HANDOFF_CLAIMED: (("conversation",), ("agent",)),
    K.HANDOFF_CLOSED: (("conversation",), ("agent", "close_reason")),
    K.HANDOFF_REOPENED: (("conversation",), ("agent",)),
    K.TICKET_CREATED: (("ticket", "channel", "lang"), ("conversation", "customer", "due")),
    K.TICKET_REPLIED: (("ticket",), ("conversation", "agent")),
    K.TICKET_SOLVED: (("ticket",), ("conversation", "agent")),
    K.TICKET_REASON_CORRECTED: (("ticket", "reason"), ("agent",)),
    K.SURVEY_ANSWERED: (("survey", "score"), ("conversation", "ticket", "verbatim", "customer", "agent")),
    K.SURVEY_COMMENT: (("survey", "score", "verbatim"), ("conversation", "ticket", "customer")),
}
COMMON = ("channel", "lang", "reason")

_ID_RE = re.compile(r"^[\w.:@+/-]{1,200}$")
_CHANNEL_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_LANG_RE = re.compile(r"^[a-z]{2,3}$")
_REASON_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_-]*)*$")
PSEUDONYMISED = {"customer": "cust_", "agent": "agent_"}


# -- events -----------------------------------------------------------------------------------------


def epoch(value: datetime | float | int | str, name: str) -> float:
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{name}: naive datetime {value}; use an aware one (datetime.now(UTC))")
        return value.timestamp()
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{name}: not a valid epoch timestamp: {value!r}")
    return number


def _check(kind: EventKind, name: str, value: Any) -> Any:
    if name in ("conversation", "ticket", "entry", "variant", "customer", "agent"):
        value = str(value)
        if not _ID_RE.match(value):
            raise ValueError(f"{kind}: {name} {value!r} is not an id ([A-Za-z0-9_.:@+/-], 1-200 chars)")
        return value
    if name == "channel":
        if not _CHANNEL_RE.match(str(value)):
            raise ValueError(f"{kind}: bad channel {value!r}")
        return str(value)
    if name == "lang":
        value = str(value).lower()
        if not _LANG_RE.match(value):
            raise ValueError(f"{kind}: bad lang {value!r} (ISO 639-1 code, e.g. fr)")
        return value
    if name == "reason":
        value = str(value)
        if len(value) > 100 or not _REASON_RE.match(value):
            raise ValueError(f"{kind}: bad reason {value!r} (taxonomy leaf like 'returns/return-process')")
        return value
    if name == "role":
        if value not in ("bot", "agent"):
            raise ValueError(f"{kind}: role must be 'bot' or 'agent', got {value!r}")
        return value
    if name == "band":
        if value not in ("answer", "suggest", "none"):
            raise ValueError(f"{kind}: band must be answer|suggest|none, got {value!r}")
        return value
    if name == "score" and kind is K.FAQ_ANSWERED:
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"{kind}: score must be finite, got {value!r}")
        return number
    if name == "survey":
        if value not in SURVEY_RANGES:
            raise ValueError(f"{kind}: survey must be one of {sorted(SURVEY_RANGES)}, got {value!r}")
        return value
    if name == "score":  # survey answer; range checked once the survey is known
        if isinstance(value, bool) or float(value) != int(float(value)):
            raise ValueError(f"{kind}: score must be an integer, got {value!r}")
        return int(float(value))
    if name == "up":
        if isinstance(value, str):
            if value not in ("1", "0", "true", "false"):
                raise ValueError(f"{kind}: up must be a boolean, got {value!r}")
            return value in ("1", "true")
        if not isinstance(value, bool):
            raise ValueError(f"{kind}: up must be a boolean, got {value!r}")
        return value
    if name == "due":
        return epoch(value, "due")
    if name == "close_reason":   # handoff.desk.CLOSE_REASONS (analytics sits below handoff)
        if value not in ("solved", "spam", "duplicate"):
            raise ValueError(f"{kind}: close_reason must be solved|spam|duplicate, got {value!r}")
        return value
    if name == "query":
        return mask_pii(str(value))[:QUERY_MAX]
    if name == "verbatim":
        return mask_pii(str(value))[:VERBATIM_MAX]
    raise ValueError(f"{kind}: unknown field {name!r}")  # pragma: no cover - guarded by make_event


@dataclass(frozen=True)
class Event:
    """One validated analytics event. `at` is epoch seconds (UTC); `data` holds the kind's fields."""

    kind: EventKind
    id: str
    at: float
    data: Mapping[str, Any] = field(default_factory=dict)

    def get(self, name: str, default: Any = None) -> Any:
        return self.data.get(name, default)

    @property
    def conversation(self) -> str | None:
        return self.data.get("conversation")

    @property
    def ticket(self) -> str | None:
        return self.data.get("ticket")

    def to_fields(self) -> dict[str, str]:
        """Flat string fields for the stream (booleans as 1/0)."""
        out = {"id": self.id, "kind": self.kind.value, "at": repr(self.at)}
        for name, value in self.data.items():
            out[name] = ("1" if value else "0") if isinstance(value, bool) else str(value)
        return out

    @classmethod
    def from_fields(cls, raw: Mapping[Any, Any]) -> Event:
        fields = {text(k): text(v) for k, v in raw.items()}
        kind, eid, at = fields.pop("kind"), fields.pop("id"), fields.pop("at")
        return make_event(kind, id=eid, at=float(at), **fields)


def make_event(kind: EventKind | str, *, at: datetime | float | None = None, id: str | None = None,
               **fields: Any) -> Event:
    """A validated event: required fields present, no unknown field (no stray free text), values
    normalised (query/verbatim PII-masked). `id` makes appends idempotent: pass a stable one
    (e.g. the channel message id) when the caller may retry; a random one is made otherwise."""
    kind = EventKind(kind)
    required, optional = SPEC[kind]
    allowed = set(required) | set(optional) | set(COMMON)
    given = {k: v for k, v in fields.items() if v is not None and v != ""}
    unknown = set(given) - allowed
    if unknown:
        raise ValueError(f"{kind}: unknown fields {sorted(unknown)} (allowed: {sorted(allowed)})")
    missing = [name for name in required if name not in given]
    if missing:
        raise ValueError(f"{kind}: missing required fields {missing}")
    data = {name: _check(kind, name, value) for name, value in given.items()}
    if kind in (K.SURVEY_ANSWERED, K.SURVEY_COMMENT):
        low, high = SURVEY_RANGES[data["survey"]][0], SURVEY_RANGES[data["survey"]][-1]
        if not low <= data["score"] <= high:
            raise ValueError(f"{kind}: {data['survey']} score must be in {low}..{high}, got {data['score']}")
        if "conversation" not in data and "ticket" not in data:
            raise ValueError(f"{kind}: needs a conversation or a ticket")
    if kind is K.FAQ_ANSWERED and data["band"] == "answer":
        if "entry" not in data:
            raise ValueError(f"{kind}: band 'answer' needs the entry answered")
        data.pop("query", None)  # answered questions are not kept: only what the bot missed
    if kind is K.THUMBS and data["up"]:
        data.pop("query", None)  # only a question whose answer was voted down is kept
    if kind is K.SURVEY_COMMENT and not str(data["verbatim"]).strip():
        raise ValueError(f"{kind}: empty verbatim")
    eid = str(id) if id is not None else uuid.uuid4().hex
    if not _ID_RE.match(eid):
        raise ValueError(f"{kind}: bad event id {eid!r}")
    return Event(kind, eid, time.time() if at is None else epoch(at, "at"), data)


# Typed constructors, one per kind (thin wrappers over make_event, for readable call sites).
# Common keyword-only arguments: at (datetime or epoch s, default now), id (idempotency key).


def message_in(*, conversation: str, channel: str, lang: str, customer: str, reason: str | None = None,
               at: datetime | float | None = None, id: str | None = None) -> Event:
    return make_event(K.MESSAGE_IN, conversation=conversation, channel=channel, lang=lang,
                      customer=customer, reason=reason, at=at, id=id)


def message_out(*, conversation: str, role: str, channel: str | None = None, lang: str | None = None,
                reason: str | None = None, at: datetime | float | None = None,
                id: str | None = None) -> Event:
    return make_event(K.MESSAGE_OUT, conversation=conversation, role=role, channel=channel, lang=lang,
                      reason=reason, at=at, id=id)


def faq_answered(*, conversation: str, band: str, score: float, entry: str | None = None,
                 variant: str | None = None, query: str | None = None, channel: str | None = None,
                 lang: str | None = None, reason: str | None = None, at: datetime | float | None = None,
                 id: str | None = None) -> Event:
    return make_event(K.FAQ_ANSWERED, conversation=conversation, band=band, score=score, entry=entry,
                      variant=variant, query=query, channel=channel, lang=lang, reason=reason, at=at, id=id)


def suggestion_clicked(*, conversation: str, entry: str, variant: str | None = None,
                       channel: str | None = None, lang: str | None = None, reason: str | None = None,
                       at: datetime | float | None = None, id: str | None = None) -> Event:
    return make_event(K.SUGGESTION_CLICKED, conversation=conversation, entry=entry, variant=variant,
                      channel=channel, lang=lang, reason=reason, at=at, id=id)


def thumbs(*, conversation: str, up: bool, entry: str | None = None, variant: str | None = None,
           query: str | None = None, channel: str | None = None, lang: str | None = None,
           reason: str | None = None, at: datetime | float | None = None, id: str | None = None) -> Event:
    """A yes/no to "did this answer your question?". `entry`/`variant` default to the conversation's
    last answer; `query` (the question answered) is kept only on a thumbs-down, for the editors."""
    return make_event(K.THUMBS, conversation=conversation, up=up, entry=entry, variant=variant, query=query,
                      channel=channel, lang=lang, reason=reason, at=at, id=id)


def handoff(kind: EventKind | str, *, conversation: str, agent: str | None = None,
            channel: str | None = None, lang: str | None = None, reason: str | None = None,
            at: datetime | float | None = None, id: str | None = None,
            close_reason: str | None = None) -> Event:
    """handoff_requested / handoff_claimed / handoff_closed / handoff_reopened (agent only on
    claimed/closed/reopened; close_reason, solved | spam | duplicate, only on closed)."""
    kind = EventKind(kind)
    if kind not in (K.HANDOFF_REQUESTED, K.HANDOFF_CLAIMED, K.HANDOFF_CLOSED, K.HANDOFF_REOPENED):
        raise ValueError(f"not a handoff event kind: {kind}")
    return make_event(kind, conversation=conversation, agent=agent, channel=channel, lang=lang,
                      reason=reason, at=at, id=id, close_reason=close_reason)


def ticket_created(*, ticket: str, channel: str, lang: str, conversation: str | None = None,
                   customer: str | None = None, reason: str | None = None,
                   due: datetime | float | None = None, at: datetime | float | None = None,
                   id: str | None = None) -> Event:
    return make_event(K.TICKET_CREATED, ticket=ticket, channel=channel, lang=lang, conversation=conversation,
                      customer=customer, reason=reason, due=due, at=at, id=id)


def ticket_reason_corrected(*, ticket: str, reason: str, agent: str | None = None,
                            at: datetime | float | None = None, id: str | None = None) -> Event:
    """The ticket's contact reason as an agent corrected it: the ticket moves to that reason."""
    return make_event(K.TICKET_REASON_CORRECTED, ticket=ticket, reason=reason, agent=agent, at=at, id=id)


def ticket_update(kind: EventKind | str, *, ticket: str, agent: str | None = None,
                  conversation: str | None = None, at: datetime | float | None = None,
                  id: str | None = None) -> Event:
    """ticket_replied / ticket_solved."""
    kind = EventKind(kind)
    if kind not in (K.TICKET_REPLIED, K.TICKET_SOLVED):
        raise ValueError(f"not a ticket update kind: {kind}")
    return make_event(kind, ticket=ticket, agent=agent, conversation=conversation, at=at, id=id)


def survey_answered(*, survey: str, score: int, conversation: str | None = None, ticket: str | None = None,
                    verbatim: str | None = None, customer: str | None = None, agent: str | None = None,
                    channel: str | None = None, lang: str | None = None, reason: str | None = None,
                    at: datetime | float | None = None, id: str | None = None) -> Event:
    """`agent`: who last helped the shopper (pseudonymised like every agent id)."""
    return make_event(K.SURVEY_ANSWERED, survey=survey, score=score, conversation=conversation,
                      ticket=ticket, verbatim=verbatim, customer=customer, agent=agent, channel=channel,
                      lang=lang, reason=reason, at=at, id=id)


def survey_comment(*, survey: str, score: int, verbatim: str, conversation: str | None = None,
                   ticket: str | None = None, customer: str | None = None, channel: str | None = None,
                   lang: str | None = None, reason: str | None = None, at: datetime | float | None = None,
                   id: str | None = None) -> Event:
    """The answer to the "why?" asked after a score: kept (masked) per contact reason and score band."""
    return make_event(K.SURVEY_COMMENT, survey=survey, score=score, verbatim=verbatim,
                      conversation=conversation, ticket=ticket, customer=customer, channel=channel,
                      lang=lang, reason=reason, at=at, id=id)
