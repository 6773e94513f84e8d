"""Every Redis key the product writes, in one inventory (the analytics roll-ups keep theirs
under `support:analytics:`, in analytics/events.py).

One place for the layout, so a key read in one module is the key written in another, and the
GDPR erase (handoff/privacy.py) can list what belongs to a conversation or a customer.
"""

from __future__ import annotations

# conversations, the queue and the help desk
PRESENCE = "support:agents:presence"              # zset agent id -> last heartbeat (epoch s)
AWAY = "support:agents:away"                      # set of agents who said "away" (still logged in)
ACTIVE = "support:agent:{agent}:active"           # set of conversation ids an agent holds
QUEUE = "support:handoff:queue"                   # zset conversation id -> time queued
HANDOFF = "support:handoff:{cid}"                 # hash: the request (lang, reason, summary...)
CONV = "support:conv:{cid}"                       # hash: channel, sender, state, agent, lang...
LOG = "support:conv:{cid}:log"                    # list of JSON messages, oldest first
NOTES = "support:conv:{cid}:notes"                # list of JSON internal notes (agents only, never the log)
CONVERSATIONS = "support:conversations"           # zset every conversation id -> created (search)
PENDING = "support:conv:{cid}:pending"            # shopper messages not yet routed
PENDING_CONVERSATIONS = "support:pending"         # set: conversations with a non-empty pending queue
LOCK = "support:conv:{cid}:lock"                  # one routing turn at a time, across gateways
BY_SENDER = "support:conv:by-sender:{channel}:{sender}"
BY_CUSTOMER = "support:customer:{channel}:{sender}:conversations"  # zset cid -> created
SEEN = "support:seen:{channel}:{mid}"             # message ids already stored (redeliveries)
STATUS = "support:status:{channel}:{mid}"         # hash: delivery status callbacks
TICKETS_OPEN = "support:tickets:open"             # zset ticket id -> created (open or pending)
TICKETS_ALL = "support:tickets:all"               # zset every ticket id -> created (search, any status)
TICKET = "support:ticket:{tid}"                   # hash: the ticket
TICKET_LOG = "support:ticket:{tid}:log"           # list of JSON replies
TICKET_SEQ = "support:tickets:seq"
TICKET_IDEMPOTENCY = "support:tickets:by-request:{key}"
CANNED = "support:canned"                         # hash canned reply id -> JSON (admins manage them)
HOURS_EXCEPTIONS = "support:hours:exceptions"     # hash day (ISO) -> JSON: chats opened outside the calendar
WAITS = "support:stats:waits"                    # recent queue waits (s), newest first
SURVEYS = "support:surveys"                       # legacy stream of scores (now analytics events)
EVENTS = "support:events"                         # pub/sub: what agents' consoles follow
OUTBOX = "support:out:{cid}"                      # pub/sub: messages for the shopper's open sockets
TYPING_PLATFORM = "support:conv:{cid}:typing-sent"  # set for a few s after Messenger's typing_on

OFFER = "support:conv:{cid}:survey-offer:{survey}"   # string, set while that survey awaits its score
ATTACHMENTS = "support:conv:{cid}:attachments"        # zset attachment id -> stored (handoff/attachments.py)
ATTACHMENT_BYTES = "support:conv:{cid}:attachment-bytes"   # the conversation's files, in bytes
ATTACHMENT = "support:attachment:{aid}"               # hash: one file's metadata (its file: var/attachments)

# the help centre, survey links, maintenance
HELP_FEEDBACK = "support:help:feedback"           # stream of help article votes (entry, lang, helpful)
HELP_VOTE = "support:help:vote:{digest}"          # set while a visitor's vote on an entry counts for the day
SURVEY_ANSWERED = "support:survey:answered:{answer}"   # set once a link's ticket/conversation is rated
PURGE_LOCK = "support:purge:lock"                 # one gateway runs the daily retention purge

# the e-mail channel (mail/); {account} = the IMAP_URL's user@host/mailbox (mail/imap_reader.py)
MAIL_AUTO_REPLIES = "support:mail:auto-replies:{day}:{sender}"  # count; sender: HMAC, day: UTC YYYYMMDD
IMAP_CURSOR = "support:mail:imap:{account}:cursor"   # hash: uidvalidity, uid (last handed over), at, attempts
IMAP_LEASE = "support:mail:imap:{account}:lease"     # string: the reading gateway's random token (PX)
MAIL_MESSAGE_ID = "support:mail:mid:{digest}"      # string -> conversation id, per shopper Message-ID digest
MAILGUN_TOKEN = "support:mail:mailgun:{token}"     # set while a webhook token counts as used (replays)
MAIL_INBOUND = "support:mail:in:{digest}"          # hash: one incoming mail's progress (cid, ticket, replied)

# agents and their sessions
AGENT = "support:agent:{email}"                    # hash: the account (+ password_hash)
AGENTS = "support:agents"                          # set of e-mails
SESSION = "support:session:{digest}"               # string -> e-mail, with a TTL
AGENT_SESSIONS = "support:agent-sessions:{email}"  # set of session digests, to end them all
SESSIONS_ENDED = "support:sessions-ended"          # pub/sub: {"email": ...} when sessions end
LOGIN_GUARD = "support:login:"                    # prefix: failed logins per account and per address
RATE = "support:rate:{key}:{window}"              # fixed-window request counters


# Rasa 3.6's RedisTrackerStore and RedisLockStore with `key_prefix: "rasa"` (bot/endpoints.yml);
# the gateway's Rasa sender id is our conversation id (gateway/rasa_client.py)
RASA_TRACKER = "rasa:tracker:{cid}"
RASA_LOCK = "rasa:lock:{cid}"
