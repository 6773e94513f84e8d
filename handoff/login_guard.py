"""Brute-force protection for agent logins, shared by every gateway through Redis.

Three limits, none of which lets a stranger lock the real owner out:

- per (account, client address): 5 wrong passwords, then a lock of 1 minute that doubles with
  every further failure (2, 4, 8... up to 1 hour); the right password is refused too while
  locked, so guessing gains nothing. A success from that address forgets its failures. An
  attacker elsewhere locks only their own address, never the owner's.
- per account, across all addresses: at most 10 attempts in a burst, then one every 6 seconds
  (a "GCRA" rate). A botnet guessing from many addresses gets that rate, and the owner sees a
  429 with a Retry-After of a few seconds, never a long lock. Addresses the account logged in
  from recently skip this ceiling, so the owner at their usual place is not even slowed.
- per client address: 30 failures in 15 minutes block it, against one host trying many accounts.

Every key is derived from the normalised identity (`accounts.normalize_email`, the same form
login uses), so `victim@ｓｈｏｐ.example` counts as `victim@shop.example`; an input that does not
normalise gets a stable NFKC + casefold key. Keys hold hashes, not e-mails or addresses.
"""

from __future__ import annotations

import hashlib
import math
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import redis.asyncio as aioredis

from handoff.accounts import AccountError, normalize_email
from kit.keys import LOGIN_GUARD

FREE_FAILURES = 5                 # per (account, address) before the first lock
BASE_LOCK_S = 60                  # the first lock; doubles with each further failure
MAX_LOCK_S = 60 * 60
PAIR_MEMORY_S = 24 * 3600         # an (account, address)'s failures are forgotten a day after the last
MAX_ADDRESS_FAILURES = 30
ADDRESS_WINDOW_S = 15 * 60
ACCOUNT_INTERVAL_S = 6.0          # sustained: 10 attempts a minute per account, whatever the address
ACCOUNT_BURST = 10
KNOWN_ADDRESS_S = 30 * 24 * 3600  # an address the account logged in from skips the account ceiling

# KEYS: pair hash, address counter, account rate, known-address flag.
# ARGV: now, max address failures, account interval, account burst.
# Returns {reason, seconds as a string}: 0 = admitted (one slot of the account's rate consumed).
_ADMIT = """
local now = tonumber(ARGV[1])
local locked = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
if locked > now then return {1, tostring(locked - now)} end
if tonumber(redis.call('GET', KEYS[2]) or '0') >= tonumber(ARGV[2]) then
  return {2, tostring(math.max(redis.call('TTL', KEYS[2]), 1))}
end
if redis.call('EXISTS', KEYS[4]) == 1 then return {0, '0'} end
local interval = tonumber(ARGV[3])
local tolerance = interval * (tonumber(ARGV[4]) - 1)
local tat = math.max(tonumber(redis.call('GET', KEYS[3]) or '0'), now)
if tat - now > tolerance then return {3, tostring(tat - tolerance - now)} end
redis.call('SET', KEYS[3], tostring(tat + interval), 'EX', math.ceil(tat + interval - now) + 1)
return {0, '0'}
"""

# KEYS: pair hash, address counter.
# ARGV: now, free failures, base lock, max lock, pair memory, address window.
# Returns the lock (seconds) this failure started, 0 if none.
_FAILED = """
local now = tonumber(ARGV[1])
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local lock = 0
if failures >= tonumber(ARGV[2]) then
  lock = math.min(tonumber(ARGV[3]) * 2 ^ (failures - tonumber(ARGV[2])), tonumber(ARGV[4]))
  redis.call('HSET', KEYS[1], 'until', tostring(now + lock))
end
redis.call('EXPIRE', KEYS[1], ARGV[5])
if redis.call('INCR', KEYS[2]) == 1 then redis.call('EXPIRE', KEYS[2], ARGV[6]) end
return math.ceil(lock)
"""

REASONS = {1: "locked", 2: "address", 3: "slow_down"}


@dataclass(frozen=True)
class Wait:
    """Why and how long a login attempt must wait."""

    reason: str     # locked (this account from this address) | address | slow_down (account ceiling)
    seconds: int


def identity(email: str) -> str:
    """The account an attempt is aimed at, as login resolves it; a stable fallback for inputs
    that are not e-mail addresses (they never log in, but their guesses still count)."""
    try:
        return normalize_email(email)
    except AccountError:
        return unicodedata.normalize("NFKC", str(email)).casefold().strip()


def _h(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class LoginGuard:
    def __init__(self, redis: aioredis.Redis, *, free_failures: int = FREE_FAILURES,
                 base_lock_s: int = BASE_LOCK_S, max_lock_s: int = MAX_LOCK_S,
                 max_address_failures: int = MAX_ADDRESS_FAILURES, address_window_s: int = ADDRESS_WINDOW_S,
                 account_interval_s: float = ACCOUNT_INTERVAL_S, account_burst: int = ACCOUNT_BURST,
                 clock: Callable[[], float] = time.time):
        self.redis = redis
        self.free_failures = free_failures
        self.base_lock_s = base_lock_s
        self.max_lock_s = max_lock_s
        self.max_address = max_address_failures
        self.address_window_s = address_window_s
        self.account_interval_s = account_interval_s
        self.account_burst = account_burst
        self.clock = clock
        self._admit = redis.register_script(_ADMIT)
        self._failed = redis.register_script(_FAILED)

    def _keys(self, email: str, address: str) -> tuple[str, str, str, str]:
        """(pair, address, account rate, known address) key names."""
        account, addr = _h(identity(email)), _h(address)
        return (f"{LOGIN_GUARD}pair:{account}:{addr}", f"{LOGIN_GUARD}addr:{addr}",
                f"{LOGIN_GUARD}rate:{account}", f"{LOGIN_GUARD}known:{account}:{addr}")

    async def admit(self, email: str, address: str) -> Wait | None:
        """None if this attempt may check the password now (it then uses one slot of the
        account's rate), else how long to wait."""
        reason, seconds = await self._admit(keys=list(self._keys(email, address)), args=[
            repr(self.clock()), self.max_address, repr(float(self.account_interval_s)), self.account_burst])
        if int(reason) == 0:
            return None
        return Wait(REASONS[int(reason)], max(math.ceil(float(seconds)), 1))

    async def failed(self, email: str, address: str) -> int:
        """Count a wrong password; the seconds of the lock it started (0: none yet)."""
        pair, addr, _, _ = self._keys(email, address)
        lock = await self._failed(keys=[pair, addr], args=[
            repr(self.clock()), self.free_failures, self.base_lock_s, self.max_lock_s,
            max(PAIR_MEMORY_S, self.max_lock_s), self.address_window_s])
        return int(lock)

    async def succeeded(self, email: str, address: str) -> None:
        """The owner got in from `address`: forget its failures there, and trust the address
        for the account-wide ceiling from now on."""
        pair, _, _, known = self._keys(email, address)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(pair)
            pipe.set(known, "1", ex=KNOWN_ADDRESS_S)
            await pipe.execute()
