"""The mailbox reader's state in Redis: which gateway reads (a lease) and how far it has read (a
cursor of UIDVALIDITY + the last UID handed over, plus the failed attempts on the next message).

Every write checks the lease token inside a Lua script: a gateway that lost its lease without
noticing (paused, cut off) can neither delete its successor's lease nor move the cursor.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from kit.keys import IMAP_CURSOR, IMAP_LEASE
from kit.redis import decoded, text

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
# KEYS: cursor, lease; ARGV: token, uidvalidity, uid, now (epoch s)
_ADVANCE = """
if redis.call('get', KEYS[2]) ~= ARGV[1] then return -1 end
redis.call('hset', KEYS[1], 'uidvalidity', ARGV[2], 'uid', ARGV[3], 'at', ARGV[4])
redis.call('hdel', KEYS[1], 'attempt_of', 'attempts')
return 1
"""
# KEYS: cursor, lease; ARGV: token, "uidvalidity:uid", +1 or -1
_ATTEMPT = """
if redis.call('get', KEYS[2]) ~= ARGV[1] then return -1 end
if redis.call('hget', KEYS[1], 'attempt_of') ~= ARGV[2] then
  redis.call('hset', KEYS[1], 'attempt_of', ARGV[2], 'attempts', 0)
end
return redis.call('hincrby', KEYS[1], 'attempts', ARGV[3])
"""


class LeaseLost(Exception):
    """Another gateway holds the lease now: this one must stop reading at once."""


@dataclass(frozen=True)
class Position:
    uidvalidity: int
    uid: int
    at: float | None        # when it last moved (epoch s): the window re-read if UIDVALIDITY changes


class Lease:
    """`SET NX PX` with a fresh random token per acquisition; renew and release compare the token."""

    def __init__(self, redis: Any, account: str, lease_s: float) -> None:
        self.key = IMAP_LEASE.format(account=account)
        self._redis = redis
        self._ms = max(int(lease_s * 1000), 1000)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)
        self.token: str | None = None

    async def acquire(self) -> bool:
        token = secrets.token_hex(16)
        if await self._redis.set(self.key, token, nx=True, px=self._ms):
            self.token = token
            return True
        return False

    async def renew(self) -> bool:
        """False when the lease expired or belongs to another gateway."""
        if self.token is None:
            return False
        return bool(await self._renew(keys=[self.key], args=[self.token, self._ms]))

    async def release(self) -> None:
        token, self.token = self.token, None
        if token is not None:
            await self._release(keys=[self.key], args=[token])


class Cursor:
    """The last UID handed over, under one UIDVALIDITY; moved only by the lease holder."""

    def __init__(self, redis: Any, account: str, lease: Lease) -> None:
        self.key = IMAP_CURSOR.format(account=account)
        self._redis = redis
        self._lease = lease
        self._advance = redis.register_script(_ADVANCE)
        self._attempt = redis.register_script(_ATTEMPT)

    async def load(self) -> Position | None:
        saved = decoded(await self._redis.hgetall(self.key))
        if not saved or "uidvalidity" not in saved or "uid" not in saved:
            return None
        at = saved.get("at")
        return Position(int(saved["uidvalidity"]), int(saved["uid"]), float(at) if at else None)

    async def advance(self, uidvalidity: int, uid: int) -> None:
        """The message `uid` was handed over (or given up): the next read starts after it."""
        await self._fenced(self._advance, uidvalidity, uid, f"{time.time():.0f}")

    async def attempt(self, uidvalidity: int, uid: int) -> int:
        """Count one more attempt at `uid` before the callback runs (so a crash counts too);
        returns the attempts so far, this one included."""
        return await self._fenced(self._attempt, f"{uidvalidity}:{uid}", 1)

    async def forget_attempt(self, uidvalidity: int, uid: int) -> None:
        """Undo `attempt` when the reader was stopped mid-callback (that was no failure)."""
        await self._fenced(self._attempt, f"{uidvalidity}:{uid}", -1)

    async def _fenced(self, script: Any, *args: Any) -> int:
        if self._lease.token is None:
            raise LeaseLost("the lease was released")
        result = int(text(await script(keys=[self.key, self._lease.key], args=[self._lease.token, *args])))
        if result < 0:
            raise LeaseLost(f"{self._lease.key} is held by another gateway")
        return result
