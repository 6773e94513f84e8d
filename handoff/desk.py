"""The help desk: who is online, the handoff queue and its claims, tickets (Redis).

The bot uses it to know whether a human can take over now, to queue a conversation and to
save a ticket before promising a reply; agents use it to take conversations (oldest first,
atomically: two agents never get the same one), hand them on, close them, and work the
ticket queue. Multi-key changes are Lua scripts or MULTI blocks, so several gateway
processes can share one Redis.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any

import redis.asyncio as aioredis

from analytics import events as ev
from analytics.recorder import NULL, Recorder
from kit.keys import (
    ACTIVE,
    AWAY,
    CONV,
    HANDOFF,
    NOTES,
    PRESENCE,
    QUEUE,
    TICKET,
    TICKET_IDEMPOTENCY,
    TICKET_LOG,
    TICKET_SEQ,
    TICKETS_ALL,
    TICKETS_OPEN,
    WAITS,
)
from kit.redis import decoded, text

PRESENCE_TTL_S = 90                       # an agent without heartbeat for this long is away
TICKET_STATUSES = ("open", "pending", "solved")   # pending: waiting for the customer's answer
CLOSE_REASONS = ("solved", "spam", "duplicate")
RECENT_WAITS = 50
MAX_NOTES = 200                           # per conversation: notes are a few lines, not a wiki

# KEYS: queue, conv, active(agent); ARGV: cid ("" = oldest), agent, max, now
# -> cid claimed, or "" nothing waiting / "!full" agent at capacity / "!taken" not waiting
_CLAIM = """
local cid = ARGV[1]
if cid == '' then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0)
  if #oldest == 0 then return '' end
  cid = oldest[1]
elseif redis.call('ZSCORE', KEYS[1], cid) == false then
  return '!taken'
end
if redis.call('SCARD', KEYS[3]) >= tonumber(ARGV[3]) then return '!full' end
redis.call('ZREM', KEYS[1], cid)
local conv = string.gsub(KEYS[2], '{cid}', cid)
redis.call('HSET', conv, 'state', 'agent', 'agent', ARGV[2], 'claimed_at', ARGV[4])
redis.call('SADD', KEYS[3], cid)
return cid
"""

# KEYS: conv, active(agent); ARGV: agent, max, now -> "ok" | "!unknown" | "!open" (queued or held) | "!full"
_REOPEN = """
local state = redis.call('HGET', KEYS[1], 'state')
if state == false then return '!unknown' end
if state == 'queued' or state == 'agent' then return '!open' end
if redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[2]) then return '!full' end
redis.call('HSET', KEYS[1], 'state', 'agent', 'agent', ARGV[1], 'claimed_at', ARGV[3], 'reopened_at', ARGV[3])
redis.call('SADD', KEYS[2], KEYS[3])
return 'ok'
"""


class DeskError(Exception):
    """A refused agent operation; `code` maps to an HTTP status in the API, `key` and `params`
    name the message for the console's texts (gateway/errors.py)."""

    def __init__(self, code: str, message: str, key: str = "", **params: Any):
        super().__init__(message)
        self.code = code
        self.key = key
        self.params = params


def unknown_ticket(tid: str) -> DeskError:
    return DeskError("not_found", f"no ticket {tid}", "unknown_ticket", ticket=tid)


def _unknown_conversation() -> DeskError:
    return DeskError("not_found", "unknown conversation", "unknown_conversation")


def _not_holder() -> DeskError:
    return DeskError("forbidden", "you do not hold this conversation", "not_holder")


def _holding_max(max_conversations: int) -> DeskError:
    return DeskError("full", f"you already hold {max_conversations} conversations", "holding_max",
                     max=max_conversations)


@dataclass(frozen=True)
class HandoffRequest:
    conversation_id: str
    lang: str
    reason: str
    summary: str
    trigger: str        # asked | escalation | complaint
    channel: str = "web"


@dataclass(frozen=True)
class Ticket:
    conversation_id: str
    email: str
    order_number: str
    message: str
    lang: str
    reason: str
    due: str            # ISO datetime promised to the shopper
    channel: str = "web"
    source: str = "bot"  # bot | widget | agent | degraded (taken by the gateway while Rasa was down)


class HelpDesk:
    def __init__(self, redis: aioredis.Redis, recorder: Recorder = NULL):
        self.redis = redis
        self.recorder = recorder
        self._claim = redis.register_script(_CLAIM)
        self._reopen = redis.register_script(_REOPEN)

    # -- presence ----------------------------------------------------------------------

    async def agents_online(self, now: float | None = None) -> int:
        """Agents with a recent heartbeat who have not set themselves away."""
        now = time.time() if now is None else now
        alive = await self.redis.zrangebyscore(PRESENCE, now - PRESENCE_TTL_S, "+inf")
        if not alive:
            return 0
        away = {text(a) for a in await self.redis.smembers(AWAY)}
        return sum(1 for a in alive if text(a) not in away)

    async def heartbeat(self, agent_id: str, now: float | None = None) -> None:
        await self.redis.zadd(PRESENCE, {agent_id: time.time() if now is None else now})

    async def set_presence(self, agent_id: str, status: str) -> None:
        """online | away | offline (logged out: no longer counted at all)."""
        if status == "online":
            await self.redis.srem(AWAY, agent_id)
            await self.heartbeat(agent_id)
        elif status == "away":
            await self.redis.sadd(AWAY, agent_id)
            await self.heartbeat(agent_id)
        elif status == "offline":
            await self.redis.zrem(PRESENCE, agent_id)
        else:
            raise DeskError("invalid", "presence is online, away or offline", "presence_invalid")

    async def presence(self, agent_id: str, now: float | None = None) -> str:
        now = time.time() if now is None else now
        seen = await self.redis.zscore(PRESENCE, agent_id)
        if seen is None or seen < now - PRESENCE_TTL_S:
            return "offline"
        return "away" if await self.redis.sismember(AWAY, agent_id) else "online"

    # -- handoff queue -----------------------------------------------------------------

    async def request_handoff(self, request: HandoffRequest) -> int:
        """Queue the conversation (once) and mark it waiting; returns its 1-based position."""
        cid = request.conversation_id
        now = time.time()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(HANDOFF.format(cid=cid), mapping={**asdict(request), "queued_at": now})
            pipe.zadd(QUEUE, {cid: now}, nx=True)
            pipe.hset(CONV.format(cid=cid), mapping={"state": "queued", "reason": request.reason})
            pipe.zrank(QUEUE, cid)
            *_, rank = await pipe.execute()
        self.recorder.emit(ev.handoff, kind="handoff_requested", conversation=cid, channel=request.channel,
                           lang=request.lang, reason=request.reason, id=f"handoff:{cid}:{int(now)}")
        return int(rank) + 1

    async def handoff(self, cid: str) -> dict | None:
        return decoded(await self.redis.hgetall(HANDOFF.format(cid=cid)))

    async def queue(self) -> list[dict]:
        """Waiting conversations, oldest first, with their request (lang, reason, summary)."""
        entries = await self.redis.zrange(QUEUE, 0, -1, withscores=True)
        out = []
        for cid, queued_at in entries:
            request = await self.handoff(text(cid)) or {}
            out.append({**request, "conversation_id": text(cid), "queued_at": queued_at})
        return out

    async def claim(self, agent_id: str, max_conversations: int, cid: str = "") -> str | None:
        """Take `cid` (or the oldest waiting conversation): exactly one agent wins it.
        None when nothing waits; DeskError when it is taken or the agent is at capacity."""
        got = text(await self._claim(keys=[QUEUE, CONV, ACTIVE.format(agent=agent_id)],
                                     args=[cid, agent_id, max_conversations, time.time()]))
        if got == "!taken":
            raise DeskError("conflict", "this conversation is not waiting (another agent has it)",
                             "claimed_elsewhere")
        if got == "!full":
            raise _holding_max(max_conversations)
        if got:
            self.recorder.emit(ev.handoff, kind="handoff_claimed", conversation=got, agent=agent_id,
                               id=f"claim:{got}:{int(time.time())}")
            queued_at = (await self.handoff(got) or {}).get("queued_at")
            if queued_at:
                await self.redis.lpush(WAITS, round(time.time() - float(queued_at), 1))
                await self.redis.ltrim(WAITS, 0, RECENT_WAITS - 1)
        return got or None

    async def typical_wait_s(self) -> float | None:
        """Median of the recent waits before an agent took over (None: no history yet)."""
        waits = sorted(float(text(w)) for w in await self.redis.lrange(WAITS, 0, -1))
        return waits[len(waits) // 2] if waits else None

    async def active(self, agent_id: str) -> list[str]:
        return sorted(text(c) for c in await self.redis.smembers(ACTIVE.format(agent=agent_id)))

    async def holder(self, cid: str) -> str:
        agent = await self.redis.hget(CONV.format(cid=cid), "agent")
        return text(agent) if agent else ""

    async def transfer(self, cid: str, from_agent: str, to_agent: str | None,
                       to_max: int = 1_000_000) -> None:
        """Hand a conversation to another agent, or back to the queue at its old place."""
        if await self.holder(cid) != from_agent:
            raise _not_holder()
        if to_agent and await self.redis.scard(ACTIVE.format(agent=to_agent)) >= to_max:
            raise DeskError("full", f"{to_agent} already holds {to_max} conversations", "agent_full",
                             agent=to_agent, max=to_max)
        request = await self.handoff(cid) or {}
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.srem(ACTIVE.format(agent=from_agent), cid)
            if to_agent:
                pipe.sadd(ACTIVE.format(agent=to_agent), cid)
                pipe.hset(CONV.format(cid=cid), mapping={"agent": to_agent, "state": "agent"})
            else:
                pipe.zadd(QUEUE, {cid: float(request.get("queued_at") or time.time())})
                pipe.hset(CONV.format(cid=cid), mapping={"agent": "", "state": "queued"})
            await pipe.execute()

    async def close(self, cid: str, agent_id: str, *, force: bool = False, reason: str = "solved") -> None:
        """The agent is done: the conversation goes back to the bot, filed under `reason`
        (solved | spam | duplicate) so the dashboard can leave spam out of resolutions."""
        if reason not in CLOSE_REASONS:
            raise DeskError("invalid", f"a close reason is one of {', '.join(CLOSE_REASONS)}",
                             "close_reason_invalid")
        if not force and await self.holder(cid) != agent_id:
            raise _not_holder()
        now = time.time()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.srem(ACTIVE.format(agent=agent_id), cid)
            pipe.zrem(QUEUE, cid)
            pipe.hset(CONV.format(cid=cid), mapping={"state": "bot", "agent": "", "closed_at": now,
                                                     "close_reason": reason, "closed_by": agent_id})
            pipe.delete(HANDOFF.format(cid=cid))
            await pipe.execute()
        self.recorder.emit(ev.handoff, kind="handoff_closed", conversation=cid, agent=agent_id,
                           close_reason=reason, id=f"close:{cid}:{now:.3f}")

    async def reopen(self, cid: str, agent_id: str, max_conversations: int) -> None:
        """An agent takes a closed conversation back (the shopper wrote again elsewhere, or the
        close was a mistake): it is theirs at once, the bot stays out of it. Counted
        (`handoff_reopened`, in the KPIs' volume): how often a close did not end the matter."""
        now = time.time()
        got = text(await self._reopen(keys=[CONV.format(cid=cid), ACTIVE.format(agent=agent_id), cid],
                                      args=[agent_id, max_conversations, now]))
        if got == "!unknown":
            raise _unknown_conversation()
        if got == "!open":
            raise DeskError("conflict", "this conversation is already with an agent or waiting for one",
                             "already_with_agent")
        if got == "!full":
            raise _holding_max(max_conversations)
        self.recorder.emit(ev.handoff, kind="handoff_reopened", conversation=cid, agent=agent_id,
                           id=f"reopen:{cid}:{now:.3f}")

    # -- internal notes ----------------------------------------------------------------

    async def add_note(self, cid: str, agent_id: str, body: str) -> dict:
        """A note for colleagues, kept apart from the transcript: nothing that reads the
        transcript (the widget, the channels, the bot) can ever show it to the customer."""
        if not await self.redis.exists(CONV.format(cid=cid)):
            raise _unknown_conversation()
        if await self.redis.llen(NOTES.format(cid=cid)) >= MAX_NOTES:
            raise DeskError("full", f"a conversation holds at most {MAX_NOTES} notes", "notes_max",
                            max=MAX_NOTES)
        note = {"agent": agent_id, "body": body, "at": time.time()}
        await self.redis.rpush(NOTES.format(cid=cid), json.dumps(note, ensure_ascii=False))
        return note

    async def notes(self, cid: str) -> list[dict]:
        return [json.loads(n) for n in await self.redis.lrange(NOTES.format(cid=cid), 0, -1)]

    # -- tickets -----------------------------------------------------------------------

    async def create_ticket(self, ticket: Ticket, request_key: str) -> str:
        """Save a ticket and return its id; the same `request_key` (a retried action or form
        post) returns the first ticket instead of creating a second one."""
        idem = TICKET_IDEMPOTENCY.format(key=request_key)
        existing = await self.redis.get(idem)
        if existing:
            return text(existing)
        tid = f"T-{int(await self.redis.incr(TICKET_SEQ)):06d}"
        created = time.time()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(TICKET.format(tid=tid), mapping={**asdict(ticket), "id": tid, "status": "open",
                                                      "created_at": created})
            pipe.zadd(TICKETS_OPEN, {tid: created})
            pipe.zadd(TICKETS_ALL, {tid: created})
            pipe.set(idem, tid, ex=7 * 86400)
            await pipe.execute()
        return tid

    async def ticket(self, tid: str) -> dict | None:
        return decoded(await self.redis.hgetall(TICKET.format(tid=tid)))

    async def tickets(self, status: str | None = None) -> list[dict]:
        """Open and pending tickets, oldest first (FIFO); `status` narrows to one of them."""
        ids = [text(t) for t in await self.redis.zrange(TICKETS_OPEN, 0, -1)]
        out = [t for t in [await self.ticket(tid) for tid in ids] if t]
        return [t for t in out if status is None or t["status"] == status]

    async def ticket_note(self, tid: str, agent_id: str, body: str) -> dict:
        """An internal note in the ticket's log: shown to agents, never e-mailed."""
        if await self.ticket(tid) is None:
            raise unknown_ticket(tid)
        if await self.redis.llen(TICKET_LOG.format(tid=tid)) >= MAX_NOTES:
            raise DeskError("full", f"a ticket holds at most {MAX_NOTES} entries", "ticket_entries_max",
                             max=MAX_NOTES)
        entry = {"agent": agent_id, "body": body, "at": time.time(), "note": True}
        await self.redis.rpush(TICKET_LOG.format(tid=tid), json.dumps(entry, ensure_ascii=False))
        return entry

    async def assign_ticket(self, tid: str, agent_id: str, by: str) -> None:
        """Give the ticket to one agent (`agent_id`) or to nobody (""): who answers it is never
        a guess between two colleagues."""
        if await self.ticket(tid) is None:
            raise unknown_ticket(tid)
        await self.redis.hset(TICKET.format(tid=tid), mapping={"assignee": agent_id, "assigned_by": by,
                                                              "assigned_at": time.time()})

    async def set_ticket_status(self, tid: str, status: str, agent_id: str) -> None:
        """open | pending (waiting for the customer) | solved; a solved ticket set back to open
        or pending returns to the queue."""
        if status not in TICKET_STATUSES:
            raise DeskError("invalid", f"a ticket status is one of {', '.join(TICKET_STATUSES)}",
                             "ticket_status_invalid")
        if status == "solved":
            await self.solve_ticket(tid, agent_id)
            return
        ticket = await self.ticket(tid)
        if ticket is None:
            raise unknown_ticket(tid)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(TICKET.format(tid=tid), mapping={"status": status})
            pipe.zadd(TICKETS_OPEN, {tid: float(ticket.get("created_at") or time.time())})
            if ticket.get("status") == "solved":
                pipe.hdel(TICKET.format(tid=tid), "solved_at", "solved_by")
                pipe.hset(TICKET.format(tid=tid), mapping={"reopened_by": agent_id,
                                                          "reopened_at": time.time()})
            await pipe.execute()

    async def add_ticket_reply(self, tid: str, agent_id: str, body: str, *, message_id: str = "") -> None:
        """Record an agent's reply (already e-mailed); the ticket waits for the shopper."""
        if await self.ticket(tid) is None:
            raise unknown_ticket(tid)
        entry = {"agent": agent_id, "body": body, "at": time.time(), "message_id": message_id}
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(TICKET_LOG.format(tid=tid), json.dumps(entry, ensure_ascii=False))
            pipe.hset(TICKET.format(tid=tid), mapping={"status": "pending", "replied_at": entry["at"]})
            await pipe.execute()

    async def ticket_replies(self, tid: str) -> list[dict]:
        return [json.loads(r) for r in await self.redis.lrange(TICKET_LOG.format(tid=tid), 0, -1)]

    async def set_ticket_reason(self, tid: str, reason: str, agent_id: str) -> None:
        """An agent files the ticket under another contact reason; the correction is counted
        (how often the automatic reason was wrong) and the analytics move the ticket there."""
        ticket = await self.ticket(tid)
        if ticket is None:
            raise unknown_ticket(tid)
        if ticket.get("reason") == reason:
            return
        await self.redis.hset(TICKET.format(tid=tid), mapping={
            "reason": reason, "reason_was": ticket.get("reason", ""), "reason_by": agent_id})
        self.recorder.emit(ev.ticket_reason_corrected, ticket=tid, reason=reason, agent=agent_id,
                           id=f"reason:{tid}:{reason}:{time.time():.3f}")

    async def solve_ticket(self, tid: str, agent_id: str) -> None:
        if await self.ticket(tid) is None:
            raise unknown_ticket(tid)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(TICKET.format(tid=tid), mapping={"status": "solved", "solved_at": time.time(),
                                                      "solved_by": agent_id})
            pipe.zrem(TICKETS_OPEN, tid)
            await pipe.execute()
        self.recorder.emit(ev.ticket_update, kind="ticket_solved", ticket=tid, agent=agent_id,
                           id=f"solved:{tid}")
