"""Rasa's per-conversation lock in two Redis round trips: `SET NX PX` to take it, a checked
`DEL` to give it back.

Rasa 3.6's RedisLockStore keeps a JSON ticket queue per conversation and reads and rewrites it
seven times a turn (issue, acquire, finish, someone waiting?, delete), each a blocking call on
Rasa's event loop, and its read-modify-write is not atomic across servers. Its FIFO order is not
needed here: the gateway already hands a conversation's messages to Rasa one at a time, in order
(conversation/router.py), so this lock only has to keep two Rasa servers (or an API call and a
turn) out of one tracker at once. A holder that dies loses the lock after the lock lifetime.

`lock_store: type: lock_store.RedisMutexLockStore` (endpoints.yml); the key is Rasa's own,
`{key_prefix}:lock:{conversation}` (the GDPR erase deletes it). Runs in the Rasa venv (Python
3.10): imports nothing from the gateway.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from rasa.core.lock_store import LOCK_LIFETIME, LockError, LockStore
from rasa.utils.endpoints import EndpointConfig

POLL_S = 0.02   # a waiting turn looks again this often (Rasa's ticket lock: every second)
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisMutexLockStore(LockStore):
    def __init__(self, endpoint_config: EndpointConfig) -> None:
        import redis

        kwargs = endpoint_config.kwargs
        self.red = redis.StrictRedis(
            host=endpoint_config.url or "localhost", port=int(kwargs.get("port") or 6379),
            db=int(kwargs.get("db") or 0), username=kwargs.get("username"), password=kwargs.get("password"),
            socket_timeout=float(kwargs.get("socket_timeout") or 10))
        prefix = kwargs.get("key_prefix")
        self.key_prefix = f"{prefix}:lock:" if prefix else "lock:"
        self._release = self.red.register_script(_RELEASE)
        super().__init__()

    @asynccontextmanager
    async def lock(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME,
                   wait_time_in_seconds: float = 1) -> AsyncIterator[None]:
        key, token = self.key_prefix + conversation_id, secrets.token_hex(16)
        started = time.monotonic()
        while not self.red.set(key, token, nx=True, px=int(lock_lifetime * 1000)):
            # the holder finishes or its lock expires (lock_lifetime) well before this
            if time.monotonic() - started > 2 * lock_lifetime:
                raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.")
            await asyncio.sleep(min(POLL_S, wait_time_in_seconds))
        try:
            yield None
        finally:
            self._release(keys=[key], args=[token])

    # Rasa's ticket-queue API, unused by `lock` above: kept answering for any other caller
    def get_lock(self, conversation_id: str) -> Any:
        return None

    def delete_lock(self, conversation_id: str) -> None:
        self.red.delete(self.key_prefix + conversation_id)

    def save_lock(self, lock: Any) -> None:
        raise NotImplementedError("RedisMutexLockStore keeps no ticket queue")
