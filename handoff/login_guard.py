"""Brute-force protection for agent logins, shared by every gateway through Redis.

Per account: 5 wrong passwords within 15 minutes lock it for 15 minutes (even the right
password is refused meanwhile, so guessing gains nothing). Per client address: 30 failures in
15 minutes block that address, against one host trying many accounts. Keys hold a hash of the
e-mail, not the address itself.
"""

from __future__ import annotations

import hashlib

import redis.asyncio as aioredis

PREFIX = "support:login:"
MAX_ACCOUNT_FAILURES = 5
MAX_ADDRESS_FAILURES = 30
WINDOW_S = 15 * 60
LOCK_S = 15 * 60


# count a failure on both keys; a window starts with its first failure (works on Redis < 7)
_COUNT = """
local out = {}
for i, key in ipairs(KEYS) do
  out[i] = redis.call('INCR', key)
  if out[i] == 1 then redis.call('EXPIRE', key, ARGV[1]) end
end
return out
"""


def _h(value: str) -> str:
    return hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]


class LoginGuard:
    def __init__(self, redis: aioredis.Redis, *, max_account_failures: int = MAX_ACCOUNT_FAILURES,
                 max_address_failures: int = MAX_ADDRESS_FAILURES, window_s: int = WINDOW_S,
                 lock_s: int = LOCK_S):
        self.redis = redis
        self.max_account = max_account_failures
        self.max_address = max_address_failures
        self.window_s = window_s
        self.lock_s = lock_s

    async def blocked_for(self, email: str, address: str) -> int:
        """Seconds until this login may be tried again (0: allowed now)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.ttl(PREFIX + f"lock:{_h(email)}")
        pipe.get(PREFIX + f"addr:{_h(address)}")
        pipe.ttl(PREFIX + f"addr:{_h(address)}")
        lock_ttl, addr_failures, addr_ttl = await pipe.execute()
        if lock_ttl and lock_ttl > 0:
            return int(lock_ttl)
        if addr_failures is not None and int(addr_failures) >= self.max_address:
            return max(int(addr_ttl), 1)
        return 0

    async def failed(self, email: str, address: str) -> None:
        account, addr = PREFIX + f"fail:{_h(email)}", PREFIX + f"addr:{_h(address)}"
        failures, _ = await self.redis.eval(_COUNT, 2, account, addr, self.window_s)
        if int(failures) >= self.max_account:
            await self.redis.set(PREFIX + f"lock:{_h(email)}", "1", ex=self.lock_s)
            await self.redis.delete(account)

    async def succeeded(self, email: str) -> None:
        await self.redis.delete(PREFIX + f"fail:{_h(email)}")
