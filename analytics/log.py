"""The analytics event log in Redis: one stream of events, folded in the same atomic script call into
per-day counters, so a dashboard reads O(days) small hash lookups instead of scanning millions
of events.

Redis layout (all under `support:analytics:`):
- `events`                  stream of events (flat string fields, see Event.to_fields)
- `seen:{event id}`         SET NX: an event id already counted (a retried append is a no-op)
- `day:{YYYY-MM-DD}`        hash `{metric}|{channel}|{lang}|{reason}` -> count or sum; each of the
                            three dimensions also rolled up as `*`, the reason also as
                            `{category}/*`, so any filter combination is one field
- `variants:{YYYY-MM-DD}`   hash `{entry}|{variant}|{shown,up,down,conv,contained}` -> count (A/B
                            tests of answers; conv/contained: conversations whose first A/B answer
                            was that variant, filed under the conversation's day)
- `unanswered:{YYYY-MM-DD}` hash event id -> JSON {q, why, lang, reason, at}: questions the bot
                            missed (band none), suggestions nobody clicked, answers voted down
- `verbatims`               zset JSON -> epoch s: survey "why" answers (PII-masked), newest kept
- `conv:{cid}`              hash: facts of one conversation (start, dims, flags, durations)
- `ticket:{tid}`            hash: facts of one ticket (created, dims, due, first reply, solved)
- `last-contact:{customer}:{reason}`  hash: the customer's latest contact on that reason (FCR)
- `sla:pending`             zset ticket id -> due (epoch s): tickets not answered yet
- `dim:{channel,lang,reason}`  sets of the dimension values seen (for breakdowns)
- `meta`                    hash: tz (time zone of the day keys)

Days are local days in the shop's time zone (the BusinessHours zone, else UTC). Conversation facts
(containment, handoff, FCR contact, response times) are filed under the day the shopper first
wrote, with the conversation's channel, language and FIRST known reason; ticket facts under the
day the ticket was created. Plain event counts go under the event's own day and dimensions.
Conversation-level counters are derived from the facts: each append subtracts the conversation's
old contribution and adds the new one, so a conversation that gets its reason or a handoff later
moves to the right buckets, exactly once.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import redis.asyncio as aioredis

from kit.pii import analytics_secret, pseudonymize
from kit.redis import decoded, text
from shop.hours import BusinessHours

from .events import COMMON, PSEUDONYMISED, Event, K, epoch
from .kpi import FCR_WINDOW, score_band
from .rollups import (
    NONE,
    Dims,
    conversation_contribution,
    fact,
    rollup_fields,
    ticket_contribution,
    variant_contribution,
)

PREFIX = "support:analytics:"
STREAM = PREFIX + "events"
SEEN = PREFIX + "seen:{eid}"
DAY = PREFIX + "day:{day}"
VARIANTS = PREFIX + "variants:{day}"
UNANSWERED = PREFIX + "unanswered:{day}"
VERBATIMS = PREFIX + "verbatims"
CONV_FACTS = PREFIX + "conv:{cid}"        # a conversation's facts for the roll-ups
TICKET_FACTS = PREFIX + "ticket:{tid}"
LAST_CONTACT = PREFIX + "last-contact:{customer}:{reason}"
SLA_PENDING = PREFIX + "sla:pending"
DIM = PREFIX + "dim:{dim}"
META = PREFIX + "meta"

SEEN_TTL_S = 30 * 86400
CONV_TTL_S = 35 * 86400  # refreshed on every event; an idle conversation's facts end after that
TICKET_TTL_S = 180 * 86400
VERBATIMS_KEPT = 50_000
UNANSWERED_TTL_S = 180 * 86400
MAX_ATTEMPTS = 50


@dataclass
class _Plan:
    """Everything one append writes, gathered before MULTI."""

    counters: dict[tuple[str, str], float] = field(default_factory=dict)  # (day, field) -> delta
    variants: dict[tuple[str, str], int] = field(default_factory=dict)
    hashes: dict[str, tuple[dict[str, str], int]] = field(default_factory=dict)  # key -> (mapping, ttl)
    dims: set[tuple[str, str]] = field(default_factory=set)
    zadd: dict[str, float] = field(default_factory=dict)
    zrem: set[str] = field(default_factory=set)
    unanswered_add: dict[tuple[str, str], str] = field(default_factory=dict)  # (day, event id) -> JSON
    unanswered_del: set[tuple[str, str]] = field(default_factory=set)
    verbatims: dict[str, float] = field(default_factory=dict)  # JSON -> at

    def add(self, day: str, dims: Dims, metric: str, value: float) -> None:
        for name in rollup_fields(metric, *dims):
            key = (day, name)
            self.counters[key] = self.counters.get(key, 0) + value

    def diff(self, old: list[tuple[str, Dims, str, float]], new: list[tuple[str, Dims, str, float]]) -> None:
        for day, dims, metric, value in old:
            self.add(day, dims, metric, -value)
        for day, dims, metric, value in new:
            self.add(day, dims, metric, value)

    def variant_diff(self, old: list[tuple[str, str, int]], new: list[tuple[str, str, int]]) -> None:
        for sign, rows in ((-1, old), (1, new)):
            for day, name, value in rows:
                self.variants[(day, name)] = self.variants.get((day, name), 0) + sign * value



# One append's writes, applied at once if the facts it was planned on are unchanged. KEYS: every
# key checked or written, the event's `seen` key first. ARGV[1]: JSON [checks, writes], checks as
# [key index, rev read] pairs, writes as [command, key index, arguments...] (one JSON string, not
# hundreds of arguments: redis-py encodes each argument in Python). Returns 1 (applied), 0 (this
# event id was appended already) or -1 (a fact changed since it was read: plan again).
_APPLY = """
local allowed = {SET=1, XADD=1, HINCRBY=1, HINCRBYFLOAT=1, HSET=1, HDEL=1, EXPIRE=1,
                 ZADD=1, ZREMRANGEBYRANK=1, ZREM=1, SADD=1}
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local plan = cjson.decode(ARGV[1])
for _, check in ipairs(plan[1]) do
  if (redis.call('HGET', KEYS[check[1]], 'rev') or '') ~= check[2] then return -1 end
end
for _, write in ipairs(plan[2]) do
  local command = write[1]
  if not allowed[command] then
    return redis.error_reply('analytics: ' .. tostring(command) .. ' is not an append write')
  end
  redis.call(command, KEYS[write[2]], unpack(write, 3))
end
return 1
"""


class _Writes:
    """The commands of one append, as the `_APPLY` script's KEYS and ARGV."""

    def __init__(self, seen_key: str) -> None:
        self.keys: list[str] = [seen_key]
        self._index: dict[str, int] = {seen_key: 1}
        self._ops: list[list[Any]] = []

    def _key(self, key: str) -> int:
        if key not in self._index:
            self.keys.append(key)
            self._index[key] = len(self.keys)
        return self._index[key]

    def add(self, command: str, key: str, *args: Any) -> None:
        self._ops.append([command, self._key(key), *map(str, args)])   # strings: exact in Lua

    def call(self, guards: dict[str, str]) -> tuple[list[str], list[str]]:
        """KEYS and ARGV, the checked keys among the keys (a check may name a key not written)."""
        checks = [[self._key(key), rev] for key, rev in guards.items()]
        return self.keys, [json.dumps([checks, self._ops], ensure_ascii=False)]


class EventLog:
    """The analytics event log: append-only stream + pre-aggregated counters, in Redis.

    `hours` (the shop's BusinessHours) makes human response/resolution times count business
    seconds and gives tickets their SLA deadline; without it they are wall-clock seconds and only
    tickets created with an explicit `due` are judged on SLA. `secret` keys the pseudonymisation
    of customer/agent ids (default: env ANALYTICS_SECRET, else a fixed key - set one in production
    or the ids of phone-number senders can be brute-forced back).
    """

    def __init__(self, redis: aioredis.Redis, *, hours: BusinessHours | None = None,
                 tz: str | tzinfo | None = None, secret: bytes | str | None = None,
                 maxlen: int | None = None) -> None:
        self.redis = redis
        self.hours = hours
        if tz is None:
            tz = hours.tz if hours is not None else UTC
        self.tz = ZoneInfo(tz) if isinstance(tz, str) else tz
        if secret is None:
            secret = analytics_secret()
        self.secret = secret.encode() if isinstance(secret, str) else secret
        self.maxlen = maxlen
        self._meta_written = False
        self._apply = redis.register_script(_APPLY)

    def day(self, at: float) -> str:
        return datetime.fromtimestamp(at, self.tz).date().isoformat()

    def prepare(self, event: Event) -> Event:
        """The event as stored: customer and agent ids pseudonymised."""
        data = dict(event.data)
        for name, prefix in PSEUDONYMISED.items():
            if name in data:
                data[name] = pseudonymize(data[name], self.secret, prefix)
        return Event(event.kind, event.id, event.at, data)

    def _human_seconds(self, start: float, end: float) -> float:
        if self.hours is None:
            return max(0.0, end - start)
        a, b = datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)
        return max(0.0, self.hours.business_hours_between(a, b) * 3600.0)

    async def append(self, event: Event) -> bool:
        """Store the event and update the counters atomically. False if this event id was already
        appended (a retry), in which case nothing changes.

        Two round trips: the facts are read in one pipeline, and the writes go in one script call
        that first checks the facts read are unchanged (each facts hash carries a `rev` the script
        compares and every write bumps). A concurrent append on the same conversation or ticket
        makes the check fail and this one plans again. (It was WATCH, reads, MULTI/EXEC: four to
        five round trips and a command object per counter, the gateway's largest share of Redis
        work per turn; issue 20.)"""
        event = self.prepare(event)
        seen_key = SEEN.format(eid=event.id)
        cid, tid = event.conversation, event.ticket
        conv_key = CONV_FACTS.format(cid=cid) if cid else None
        ticket_key = TICKET_FACTS.format(tid=tid) if tid else None
        for _attempt in range(MAX_ATTEMPTS):
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.exists(seen_key)
                for key in (conv_key, ticket_key):
                    if key:
                        pipe.hgetall(key)
                replies = await pipe.execute()
            if replies[0]:
                return False
            read = iter(replies[1:])
            conv = (decoded(next(read)) or {}) if conv_key else {}
            ticket = (decoded(next(read)) or {}) if ticket_key else {}
            guards = {key: facts.get("rev", "")
                      for key, facts in ((conv_key, conv), (ticket_key, ticket)) if key}
            plan = await self._plan(guards, event, conv, ticket)
            writes = _Writes(seen_key)
            self._queue(writes, event, plan, seen_key, guards)
            keys, args = writes.call(guards)
            applied = await self._apply(keys=keys, args=args)
            if applied == 1:
                self._meta_written = True
                return True
            if applied == 0:   # appended meanwhile under the same id (a retry racing the original)
                return False
            # another append changed the same conversation/ticket: back off a little, with jitter
            await asyncio.sleep(random.uniform(0, 0.001 * 2 ** min(_attempt, 7)))
        raise RuntimeError(f"analytics append of {event.id} kept conflicting after {MAX_ATTEMPTS} attempts")

    async def _plan(self, guards: dict[str, str], event: Event, conv: dict[str, str],
                    ticket: dict[str, str]) -> _Plan:
        plan = _Plan()
        kind, at, data = event.kind, event.at, event.data
        new_conv = self._update_conversation(event, conv) if event.conversation else {}
        new_ticket = self._update_ticket(event, ticket, new_conv) if event.ticket else {}

        # FCR: a conversation becomes a contact once engaged with a customer and a reason; the same
        # customer's previous contact on that reason within 7 days then counts as repeated.
        if new_conv and conv.get("contact") != "1" and new_conv.get("engaged") == "1" \
                and new_conv.get("customer") and new_conv.get("reason"):
            new_conv["contact"] = "1"
            await self._link_contact(guards, plan, event.conversation or "", new_conv)

        day = self.day(at)
        self._feedback_loop(event, day, conv, new_conv, plan)
        if event.conversation:
            plan.diff(conversation_contribution(conv), conversation_contribution(new_conv))
            plan.variant_diff(variant_contribution(conv), variant_contribution(new_conv))
            plan.hashes[CONV_FACTS.format(cid=event.conversation)] = (new_conv, CONV_TTL_S)
        if event.ticket and new_ticket:
            plan.diff(ticket_contribution(ticket), ticket_contribution(new_ticket))
            if kind is K.TICKET_REASON_CORRECTED and ticket.get("day"):   # counted where it belongs now
                plan.diff([(ticket["day"], _ticket_dims(ticket), "ticket_created", 1)],
                          [(new_ticket["day"], _ticket_dims(new_ticket), "ticket_created", 1)])
            plan.hashes[TICKET_FACTS.format(tid=event.ticket)] = (new_ticket, TICKET_TTL_S)
            if new_ticket.get("due") and not new_ticket.get("handled_at"):
                plan.zadd[event.ticket] = float(new_ticket["due"])
            else:
                plan.zrem.add(event.ticket)

        # plain event counts, under the event's own day and dimensions
        facts = new_conv or new_ticket
        dims: Dims = tuple(  # type: ignore[assignment]
            str(data.get(d) or facts.get(d) or NONE) for d in COMMON)
        metrics: list[str] = []
        if kind is K.MESSAGE_IN:
            metrics = ["msg_in"]
        elif kind is K.MESSAGE_OUT:
            metrics = [f"msg_out_{data['role']}"]
        elif kind is K.FAQ_ANSWERED:
            metrics = ["faq", f"faq_{data['band']}"]
            if data["band"] == "answer":
                plan.variants[(day, f"{data['entry']}|{data.get('variant', NONE)}|shown")] = 1
        elif kind is K.SUGGESTION_CLICKED:
            metrics = ["suggestion_click"]
        elif kind is K.THUMBS:
            metrics = ["thumbs_up" if data["up"] else "thumbs_down"]
            entry, variant = _voted(data, conv)
            if entry:
                vote = "up" if data["up"] else "down"
                plan.variants[(day, f"{entry}|{variant}|{vote}")] = 1
        elif kind is K.SURVEY_ANSWERED:
            metrics = [f"{data['survey']}:{data['score']}"]
        elif kind is K.SURVEY_COMMENT:
            metrics = ["survey_comment"]
        else:
            metrics = [kind.value]  # handoff_* and ticket_* counts
        for metric in metrics:
            plan.add(day, dims, metric, 1)
        for name, value in zip(COMMON, dims, strict=True):
            if value != NONE:
                plan.dims.add((name, value))
        if data.get("verbatim"):
            plan.verbatims[_verbatim(event, dims, new_conv or new_ticket)] = at
        return plan

    def _feedback_loop(self, event: Event, day: str, conv: dict[str, str], new_conv: dict[str, str],
                       plan: _Plan) -> None:
        """What the FAQ is missing: questions of band none, suggestions nobody clicked (removed once
        one is clicked) and answers voted down go to the day's `unanswered` hash."""
        data, kind = event.data, event.kind
        why = None
        if kind is K.FAQ_ANSWERED and data["band"] != "answer" and data.get("query"):
            why = data["band"]
            if why == "suggest" and event.conversation:
                new_conv["suggest_ref"] = f"{day}|{event.id}"
        elif kind is K.SUGGESTION_CLICKED and conv.get("suggest_ref"):
            ref_day, ref_id = conv["suggest_ref"].split("|", 1)
            plan.unanswered_del.add((ref_day, ref_id))
            new_conv["suggest_ref"] = ""
        elif kind is K.THUMBS and not data["up"] and data.get("query"):
            why = "thumbs_down"
        if why:
            reason = data.get("reason") or new_conv.get("reason") or ""
            entry = data.get("entry") or (new_conv.get("entry") if why == "thumbs_down" else None)
            plan.unanswered_add[(day, event.id)] = json.dumps(
                {"q": data["query"], "why": why, "lang": data.get("lang") or new_conv.get("lang") or "",
                 "reason": reason, "entry": entry or "", "at": round(event.at, 3)}, ensure_ascii=False)

    def _update_conversation(self, event: Event, old: dict[str, str]) -> dict[str, str]:
        facts = dict(old)
        data, at, kind = event.data, event.at, event.kind
        for name in (*COMMON, "customer"):
            if data.get(name) and not facts.get(name):
                facts[name] = str(data[name])  # first known value sticks
        engaged = facts.get("engaged") == "1"
        start = fact(facts, "start")
        if kind is K.MESSAGE_IN and not engaged:
            facts.update(engaged="1", start=repr(at), day=self.day(at))
        elif kind is K.MESSAGE_OUT and engaged and start is not None:
            if data["role"] == "bot" and "bot_reply_s" not in facts and at >= start:
                facts["bot_reply_s"] = repr(at - start)
            handoff_at = fact(facts, "handoff_at")
            if data["role"] == "agent" and handoff_at is not None and "agent_reply_s" not in facts:
                facts["agent_reply_s"] = repr(self._human_seconds(handoff_at, at))
        elif kind in (K.FAQ_ANSWERED, K.SUGGESTION_CLICKED) and engaged and start is not None:
            if (kind is K.SUGGESTION_CLICKED or data["band"] == "answer") and "answered_s" not in facts:
                facts["answered_s"] = repr(max(0.0, at - start))
        elif kind is K.THUMBS:
            facts["feedback"] = "up" if data["up"] else "down"  # the last opinion counts
        elif kind is K.HANDOFF_REQUESTED:
            facts["handoff"] = "1"
            facts.setdefault("handoff_at", repr(at))
        elif kind is K.HANDOFF_CLOSED:
            handoff_at = fact(facts, "handoff_at")
            if handoff_at is not None and "closed_s" not in facts:
                facts["closed_s"] = repr(self._human_seconds(handoff_at, at))
        elif kind is K.TICKET_CREATED:
            facts["ticket"] = "1"
        if kind in (K.FAQ_ANSWERED, K.SUGGESTION_CLICKED) and data.get("entry"):
            facts["entry"], facts["variant"] = str(data["entry"]), str(data.get("variant") or "")
            if data.get("variant") and not facts.get("ab"):
                facts["ab"] = f"{data['entry']}|{data['variant']}"  # the first A/B answer shown
        facts["updated"] = repr(at)
        return facts

    def _update_ticket(self, event: Event, old: dict[str, str], conv: dict[str, str]) -> dict[str, str]:
        facts = dict(old)
        data, at, kind = event.data, event.at, event.kind
        if kind is K.TICKET_CREATED:
            if facts.get("day"):
                return facts  # created twice under two event ids: keep the first
            due = data.get("due")
            if due is None and self.hours is not None and self.hours.sla_hours is not None:
                due = self.hours.sla_deadline(datetime.fromtimestamp(at, UTC)).timestamp()
            facts.update(created=repr(at), day=self.day(at), channel=data["channel"], lang=data["lang"],
                         reason=str(data.get("reason") or conv.get("reason") or ""),
                         due="" if due is None else repr(float(due)))
            return facts
        created = fact(facts, "created")
        if created is None:
            return {}  # a ticket created before analytics existed: counted as an event only
        if kind is K.TICKET_REASON_CORRECTED:   # its contributions move to the corrected reason
            facts["reason"] = str(data["reason"])
            return facts
        if kind is K.TICKET_REPLIED and "reply_s" not in facts:
            facts["reply_s"] = repr(self._human_seconds(created, at))
        if kind is K.TICKET_SOLVED and "solved_s" not in facts:
            facts["solved_s"] = repr(self._human_seconds(created, at))
        if kind in (K.TICKET_REPLIED, K.TICKET_SOLVED) and not facts.get("handled_at"):
            facts["handled_at"] = repr(at)  # SLA: first reply (or solved without a reply)
        return facts

    async def _link_contact(self, guards: dict[str, str], plan: _Plan, cid: str,
                            facts: dict[str, str]) -> None:
        """Facts read here are guarded like the conversation's (`guards`: key -> rev read)."""
        last_key = LAST_CONTACT.format(customer=facts["customer"], reason=facts["reason"])
        last = decoded(await self.redis.hgetall(last_key)) or {}
        guards[last_key] = last.get("rev", "")
        start = float(facts["start"])
        prev_cid, prev_at = last.get("cid"), fact(last, "at")
        if prev_at is not None and prev_at > start:
            return  # an older contact arriving late: keep the newer one as "last"
        if prev_cid and prev_cid != cid and prev_at is not None \
                and start - prev_at <= FCR_WINDOW.total_seconds():
            prev_key = CONV_FACTS.format(cid=prev_cid)
            prev = decoded(await self.redis.hgetall(prev_key)) or {}
            guards[prev_key] = prev.get("rev", "")
            if prev and prev.get("repeat") != "1":
                new_prev = {**prev, "repeat": "1"}
                plan.diff(conversation_contribution(prev), conversation_contribution(new_prev))
                plan.hashes[prev_key] = (new_prev, CONV_TTL_S)
        ttl = int(FCR_WINDOW.total_seconds()) + 86400
        plan.hashes[last_key] = ({**last, "cid": cid, "at": repr(start)}, ttl)

    def _queue(self, writes: _Writes, event: Event, plan: _Plan, seen_key: str,
               guards: dict[str, str]) -> None:
        writes.add("SET", seen_key, "1", "EX", SEEN_TTL_S)
        fields = [part for item in event.to_fields().items() for part in item]
        trim = ["MAXLEN", "~", self.maxlen] if self.maxlen else []
        writes.add("XADD", STREAM, *trim, "*", *fields)
        for (day, name), delta in plan.counters.items():
            if abs(delta) < 1e-9:
                continue
            key = DAY.format(day=day)
            if float(delta).is_integer() and not name.split("|", 1)[0].endswith(":sum"):
                writes.add("HINCRBY", key, name, int(delta))
            else:
                writes.add("HINCRBYFLOAT", key, name, repr(round(delta, 6)))
        for (day, name), delta in plan.variants.items():
            if delta:
                writes.add("HINCRBY", VARIANTS.format(day=day), name, delta)
        for (day, eid), payload in plan.unanswered_add.items():
            writes.add("HSET", UNANSWERED.format(day=day), eid, payload)
            writes.add("EXPIRE", UNANSWERED.format(day=day), UNANSWERED_TTL_S)
        for day, eid in plan.unanswered_del:
            writes.add("HDEL", UNANSWERED.format(day=day), eid)
        if plan.verbatims:
            scored = [part for member, at in plan.verbatims.items() for part in (at, member)]
            writes.add("ZADD", VERBATIMS, *scored)
            writes.add("ZREMRANGEBYRANK", VERBATIMS, 0, -VERBATIMS_KEPT - 1)
        for key, (mapping, ttl) in plan.hashes.items():
            if mapping:
                rev = str(int(guards.get(key) or 0) + 1)   # what the next append's check expects
                writes.add("HSET", key, *[part for item in {**mapping, "rev": rev}.items() for part in item])
                writes.add("EXPIRE", key, ttl)
        if plan.zadd:
            writes.add("ZADD", SLA_PENDING, *[part for tid, due in plan.zadd.items() for part in (due, tid)])
        if plan.zrem:
            writes.add("ZREM", SLA_PENDING, *plan.zrem)
        for name, value in plan.dims:
            writes.add("SADD", DIM.format(dim=name), value)
        if not self._meta_written:
            writes.add("HSET", META, "tz", str(self.tz))

    async def read(self, since: datetime | float | None = None, until: datetime | float | None = None,
                   *, batch: int = 1000) -> list[Event]:
        """Events whose `at` is in [since, until), in append order. Scans the whole stream: for tests
        and exports, never for dashboards (use analytics.report)."""
        low = None if since is None else epoch(since, "since")
        high = None if until is None else epoch(until, "until")
        out: list[Event] = []
        start = "-"
        while True:
            entries = await self.redis.xrange(STREAM, min=start, max="+", count=batch)
            for _sid, raw in entries:
                event = Event.from_fields(raw)
                if (low is None or event.at >= low) and (high is None or event.at < high):
                    out.append(event)
            if len(entries) < batch:
                return out
            start = "(" + text(entries[-1][0])


def _voted(data: Mapping[str, Any], conv: Mapping[str, str]) -> tuple[str, str]:
    """The (entry, variant) a thumbs is about: as given, else the conversation's last answer."""
    entry = str(data.get("entry") or conv.get("entry") or "")
    if data.get("variant"):
        return entry, str(data["variant"])
    same = not data.get("entry") or data.get("entry") == conv.get("entry")
    return entry, (conv.get("variant") if same else "") or NONE


def _verbatim(event: Event, dims: Dims, facts: Mapping[str, str]) -> str:
    data = event.data
    return json.dumps({
        "id": event.id, "at": round(event.at, 3), "survey": data["survey"], "score": data["score"],
        "band": score_band(data["survey"], data["score"]), "text": data["verbatim"],
        "channel": dims[0], "lang": dims[1], "reason": dims[2],
        "customer": data.get("customer") or facts.get("customer") or "",
        "conversation": event.conversation or "", "ticket": event.ticket or ""}, ensure_ascii=False)


def day_range(start: date, end: date) -> list[date]:
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def _ticket_dims(facts: dict[str, str]) -> Dims:
    return (facts.get("channel") or NONE, facts.get("lang") or NONE, facts.get("reason") or NONE)
