"""Which mail may get an automatic reply: never an auto-responder, a bounce, a list or ourselves
(two bots answering each other loop forever), and at most a few a day to one sender.

`auto_reply_refusal` reads the headers RFC 3834 and the big mailers agree on:
- `Auto-Submitted` other than `no` (RFC 3834);
- `Precedence: bulk | junk | list | auto_reply` (de facto);
- `X-Autoreply`, `X-Autorespond`, `X-AutoReply-From`, `X-Mail-Autoreply` present (vacation tools);
- `X-Auto-Response-Suppress` naming All, AutoReply or OOF: Microsoft's way for a sender (often an
  Exchange robot) to ask for no automatic answer;
- `X-Loop` present (procmail and help desks mark their own mail with it);
- `List-Id` or `List-Unsubscribe` (mailing lists, newsletters: RFC 2919 / 2369);
- the null Return-Path `<>` (bounces and other mail that must not be answered, RFC 5321);
- `multipart/report` (delivery and read reports, RFC 6522);
- a robot sender: mailer-daemon, postmaster, noreply / no-reply, do-not-reply, bounce(s) as the
  local part, optionally followed by -, _, . or + and more (`bounces+123@...`);
- our own address, any `+tag` of it, case-insensitively (we never answer ourselves);
- no usable sender.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Iterable

import redis.asyncio as aioredis

from kit import keys
from mail.parse import InboundMail

NO_SENDER = "no_sender"
OWN_ADDRESS = "own_address"
NULL_RETURN_PATH = "null_return_path"
REPORT = "report"
AUTO_SUBMITTED = "auto_submitted"
AUTO_RESPONSE_SUPPRESS = "auto_response_suppress"
X_AUTOREPLY = "x_autoreply"
PRECEDENCE = "precedence"
X_LOOP = "x_loop"
MAILING_LIST = "mailing_list"
ROBOT_SENDER = "robot_sender"

_PRECEDENCES = frozenset({"bulk", "junk", "list", "auto_reply"})
_SUPPRESS = frozenset({"all", "autoreply", "oof"})
_ROBOT = re.compile(r"(?:mailer[-_.]?daemon|postmaster|no[-_.]?reply|do[-_.]?not[-_.]?reply|bounces?)"
                    r"(?:[-_.+].*)?", re.IGNORECASE)


def _base(address: str) -> str:
    """The address without its +tag, lowercased: what identifies a mailbox."""
    local, _, domain = address.strip().rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}".lower()


def auto_reply_refusal(mail: InboundMail, *, own_addresses: Iterable[str]) -> str | None:
    """Why this mail must never get an automatic reply (one of the codes above), else None."""
    if not mail.sender or "@" not in mail.sender:
        return NO_SENDER
    own = {_base(a) for a in ((own_addresses,) if isinstance(own_addresses, str) else own_addresses)
           if "@" in a}
    if _base(mail.sender) in own or (mail.reply_to and _base(mail.reply_to) in own):
        return OWN_ADDRESS
    if mail.return_path == "":
        return NULL_RETURN_PATH
    if mail.content_type == "multipart/report":
        return REPORT
    if mail.auto_submitted is not None and mail.auto_submitted.split(";")[0].strip().lower() != "no":
        return AUTO_SUBMITTED
    if mail.auto_response_suppress and _SUPPRESS & {
            t.strip().lower() for t in re.split(r"[,;\s]+", mail.auto_response_suppress)}:
        return AUTO_RESPONSE_SUPPRESS
    if mail.x_autoreply:
        return X_AUTOREPLY
    if mail.precedence is not None and mail.precedence.strip().lower() in _PRECEDENCES:
        return PRECEDENCE
    if mail.x_loop is not None:
        return X_LOOP
    if mail.list_id is not None or mail.list_unsubscribe is not None:
        return MAILING_LIST
    if _ROBOT.fullmatch(mail.sender.rpartition("@")[0]):
        return ROBOT_SENDER
    return None


class DailyCap:
    """At most `limit` automatic replies to one sender a (UTC) day, counted in Redis: a backstop
    for the loops the header rules miss. The sender is keyed by an HMAC of its lowercased address
    (personal data: never stored in clear); a day's counter expires after two days."""

    TTL = 2 * 86400

    def __init__(self, redis: aioredis.Redis, *, secret: bytes, limit: int = 3) -> None:
        if not secret:
            raise ValueError("DailyCap needs a secret: an unkeyed hash of an address is reversible")
        self.redis, self.secret, self.limit = redis, secret, limit

    def key(self, sender: str, now: float) -> str:
        digest = hmac.new(self.secret, sender.strip().lower().encode(), hashlib.sha256).hexdigest()[:32]
        return keys.MAIL_AUTO_REPLIES.format(day=time.strftime("%Y%m%d", time.gmtime(now)), sender=digest)

    async def allow(self, sender: str, now: float) -> bool:
        """Count one more automatic reply to `sender` today; False beyond the limit (or no sender)."""
        if not sender.strip():
            return False
        key = self.key(sender, now)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, self.TTL)
            count, _ = await pipe.execute()
        return int(count) <= self.limit
