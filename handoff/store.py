"""Redis key names shared by the help desk, the transcripts and the router, and decoding.

One place for the layout, so a key read in one module is the key written in another.
"""

from __future__ import annotations

from typing import Any

PRESENCE = "support:agents:presence"              # zset agent id -> last heartbeat (epoch s)
AWAY = "support:agents:away"                      # set of agents who said "away" (still logged in)
ACTIVE = "support:agent:{agent}:active"           # set of conversation ids an agent holds
QUEUE = "support:handoff:queue"                   # zset conversation id -> time queued
HANDOFF = "support:handoff:{cid}"                 # hash: the request (lang, reason, summary...)
CONV = "support:conv:{cid}"                       # hash: channel, sender, state, agent, lang...
LOG = "support:conv:{cid}:log"                    # list of JSON messages, oldest first
PENDING = "support:conv:{cid}:pending"            # shopper messages not yet routed
PENDING_CONVERSATIONS = "support:pending"         # set: conversations with a non-empty pending queue
LOCK = "support:conv:{cid}:lock"                  # one routing turn at a time, across gateways
BY_SENDER = "support:conv:by-sender:{channel}:{sender}"
BY_CUSTOMER = "support:customer:{channel}:{sender}:conversations"  # zset cid -> created
SEEN = "support:seen:{channel}:{mid}"             # message ids already stored (redeliveries)
STATUS = "support:status:{channel}:{mid}"         # hash: delivery status callbacks
TICKETS_OPEN = "support:tickets:open"             # zset ticket id -> created (open or pending)
TICKET = "support:ticket:{tid}"                   # hash: the ticket
TICKET_LOG = "support:ticket:{tid}:log"           # list of JSON replies
TICKET_SEQ = "support:tickets:seq"
TICKET_IDEMPOTENCY = "support:tickets:by-request:{key}"
WAITS = "support:stats:waits"                    # recent queue waits (s), newest first
SURVEYS = "support:surveys"                       # stream of satisfaction answers
EVENTS = "support:events"                         # pub/sub: what agents' consoles follow
OUTBOX = "support:out:{cid}"                      # pub/sub: messages for the shopper's open sockets


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def decoded(raw: dict) -> dict[str, str] | None:
    """A Redis hash as str -> str, whether the client decodes responses or not."""
    if not raw:
        return None
    return {text(k): text(v) for k, v in raw.items()}
