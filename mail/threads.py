"""Which conversation an incoming e-mail continues, in the issue's order of trust:

1. a signed token in the address it was sent to (`support+TOKEN@shop`): our replies carry it in
   Reply-To, it cannot be forged, and it survives clients that drop threading headers;
2. `In-Reply-To`, then `References` (newest first), against every Message-ID seen: ours encode
   their conversation (signed, so no lookup is needed), the shopper's are remembered in Redis;
3. the ticket tag in the subject (`[#T-000123]`).

Ticket numbers are sequential and Message-IDs travel in every quoted mail, so 2 and 3 count
only when the sender is the conversation's own customer: nobody slips a message into someone
else's conversation by quoting or guessing. The token is proof enough on its own (whoever holds
a reply of ours may answer it, as with any help desk).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from email.utils import getaddresses

import redis.asyncio as aioredis

from kit.keys import MAIL_MESSAGE_ID
from kit.redis import text
from mail.parse import addr_spec as bare_addr_spec

TAG = re.compile(r"\[#(T-\d{1,12})\]")
MESSAGE_ID_TTL_S = 400 * 86400      # a reply to a year-old mail still finds its conversation
_SIG_BYTES = 8
_TOKEN = re.compile(r"^[a-z2-7]{16,80}$")


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode().rstrip("=").lower()


def _unb32(token: str) -> bytes:
    return base64.b32decode(token.upper() + "=" * (-len(token) % 8))


def addr_spec(address: str) -> str:
    """`Name <Local@Example.COM>` -> `Local@example.com` (domains are case-insensitive)."""
    return bare_addr_spec(getaddresses([address])[0][1]) if address else ""


@dataclass(frozen=True)
class ThreadKeys:
    """Signs conversation ids into reply addresses and Message-IDs (MAIL_SECRET)."""

    secret: bytes
    address: str                      # the support mailbox, e.g. support@shop.example

    def __post_init__(self) -> None:
        if len(self.secret) < 16:
            raise ValueError("MAIL_SECRET must be at least 16 characters")
        if not addr_spec(self.address):
            raise ValueError(f"not an e-mail address: {self.address!r}")

    @property
    def local(self) -> str:
        return addr_spec(self.address).rpartition("@")[0]

    @property
    def domain(self) -> str:
        return addr_spec(self.address).rpartition("@")[2]

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self.secret, b"mail-thread:" + payload, hashlib.sha256).digest()[:_SIG_BYTES]

    def token(self, cid: str) -> str:
        """Lower-case base32 (mail systems may lower-case local parts) of the id and its MAC."""
        payload = cid.encode()
        return _b32(payload + self._sign(payload))

    def conversation_of_token(self, token: str) -> str | None:
        token = token.lower()
        if not _TOKEN.fullmatch(token):
            return None
        try:
            raw = _unb32(token)
        except ValueError:
            return None
        payload, sig = raw[:-_SIG_BYTES], raw[-_SIG_BYTES:]
        if len(payload) < 3 or not hmac.compare_digest(sig, self._sign(payload)):
            return None
        try:
            return payload.decode()
        except UnicodeDecodeError:
            return None

    def reply_address(self, cid: str) -> str:
        return f"{self.local}+{self.token(cid)}@{self.domain}"

    def conversation_of_addresses(self, addresses: Iterable[str]) -> str | None:
        """The conversation named by a `support+TOKEN@` address among the recipients."""
        for address in addresses:
            local, _, domain = addr_spec(address).rpartition("@")
            base, plus, token = local.partition("+")
            if plus and domain == self.domain and base.lower() == self.local.lower():
                cid = self.conversation_of_token(token)
                if cid:
                    return cid
        return None

    def message_id(self, cid: str, seed: str | None = None) -> str:
        """`<m.TOKEN.RANDOM@domain>`: our Message-IDs say their conversation. `seed` makes it
        deterministic (an automatic reply sent again after a crash keeps its id)."""
        unique = hashlib.sha256(seed.encode()).hexdigest()[:16] if seed else secrets.token_hex(8)
        return f"<m.{self.token(cid)}.{unique}@{self.domain}>"

    def conversation_of_message_id(self, message_id: str) -> str | None:
        m = re.fullmatch(r"<m\.([a-z2-7]+)\.[0-9a-f]+@([^>]+)>", message_id.strip().lower())
        if not m or m.group(2) != self.domain:
            return None
        return self.conversation_of_token(m.group(1))


class MessageIds:
    """Message-ID -> conversation for the shopper's mails (ours are signed: see ThreadKeys)."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

    @staticmethod
    def _key(message_id: str) -> str:
        return MAIL_MESSAGE_ID.format(digest=hashlib.sha256(message_id.strip().lower().encode()).hexdigest())

    async def remember(self, message_id: str, cid: str) -> None:
        if message_id:
            await self.redis.set(self._key(message_id), cid, ex=MESSAGE_ID_TTL_S)

    async def conversation(self, message_id: str) -> str | None:
        found = await self.redis.get(self._key(message_id))
        return text(found) if found else None


def ticket_tag(subject: str) -> str | None:
    m = TAG.search(subject or "")
    return m.group(1) if m else None


@dataclass(frozen=True)
class ThreadMatch:
    cid: str
    by: str            # token | in-reply-to | references | tag


async def find_thread(*, sender: str, recipients: Iterable[str], in_reply_to: Iterable[str],
                      references: Iterable[str], subject: str, keys: ThreadKeys, ids: MessageIds,
                      customers: Callable[[str], Awaitable[set[str]]],
                      ticket_conversation: Callable[[str], Awaitable[str | None]]) -> ThreadMatch | None:
    """The conversation this mail continues, or None for a new one (see the module docstring).
    `customers(cid)`: the addresses that conversation's customer writes from (empty when it does
    not exist); `ticket_conversation(tid)`: the conversation a ticket belongs to."""
    cid = keys.conversation_of_addresses(recipients)
    if cid and await customers(cid):   # signed, and the conversation still exists (not erased)
        return ThreadMatch(cid, "token")
    sender = addr_spec(sender).lower()

    async def owned(candidate: str | None) -> bool:
        return bool(candidate) and sender in {a.lower() for a in await customers(candidate or "")}

    for by, ids_ in (("in-reply-to", list(in_reply_to)), ("references", list(references)[::-1])):
        for mid in ids_:
            candidate = keys.conversation_of_message_id(mid) or await ids.conversation(mid)
            if await owned(candidate):
                return ThreadMatch(candidate or "", by)
    tid = ticket_tag(subject)
    if tid:
        candidate = await ticket_conversation(tid)
        if await owned(candidate):
            return ThreadMatch(candidate or "", "tag")
    return None
