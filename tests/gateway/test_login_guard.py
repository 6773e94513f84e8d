"""Agent logins resist guessing without handing strangers a lock on the owner: 5 wrong passwords
lock the account from THAT address (the right password too, meanwhile) with 429 + Retry-After,
the lock grows with every further failure and a success resets it; one address trying many
accounts is blocked. tests/security/test_login_lockout.py covers the attacks on these limits."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
from fastapi.testclient import TestClient

from handoff.login_guard import BASE_LOCK_S, FREE_FAILURES, MAX_LOCK_S, LoginGuard
from ops.redis_server import RedisServer
from retrieval.service import RetrievalService
from tests.helpers import on_redis

from .helpers import PASSWORD, add_accounts


@pytest.fixture
def api(app_factory: Callable[..., Any], retrieval_service: RetrievalService, redis_client: redis.Redis,
        redis_server: RedisServer) -> Iterator[TestClient]:
    redis_client.flushdb()
    add_accounts(redis_server.url, marie="agent", karim="agent")
    with TestClient(app_factory(retrieval=retrieval_service)) as client:
        yield client


def login(api: TestClient, email: str, password: str) -> Any:
    return api.post("/api/agent/login", json={"email": email, "password": password})


def test_five_wrong_passwords_lock_the_account_from_that_address(api: TestClient,
                                                                 redis_client: redis.Redis) -> None:
    assert login(api, "marie@shop.example", "nope").status_code == 401
    assert login(api, "marie@shop.example", PASSWORD).status_code == 200       # a success resets the count
    for _ in range(FREE_FAILURES):
        assert login(api, "marie@shop.example", "guess").status_code == 401
    locked = login(api, "marie@shop.example", PASSWORD)                       # even the right one
    assert locked.status_code == 429
    assert 0 < int(locked.headers["retry-after"]) <= BASE_LOCK_S
    assert locked.json()["error"] and "too many failed logins" in locked.json()["message"]
    assert login(api, "karim@shop.example", PASSWORD).status_code == 200       # other accounts unaffected
    assert not any("marie" in key for key in redis_client.keys("support:login:*"))   # hashed keys


def test_the_lock_doubles_with_each_failure_up_to_a_cap_and_a_success_resets_it(
        redis_server: RedisServer) -> None:
    now = [1_000_000.0]

    async def job(r: aioredis.Redis) -> tuple[list[int], int | None, Any]:
        guard = LoginGuard(r, clock=lambda: now[0], account_burst=1000)
        email, here = "marie@shop.example", "203.0.113.7"
        locks = []
        for _ in range(FREE_FAILURES + 8):
            assert await guard.admit(email, here) is None      # each lock has run out (clock moved)
            locks.append(await guard.failed(email, here))
            wait = await guard.admit(email, here)
            assert (wait is None) == (locks[-1] == 0)
            now[0] += locks[-1]
        await guard.succeeded(email, here)
        after_success = await guard.failed(email, here)
        return locks, after_success, await guard.admit(email, here)

    locks, after_success, admitted = on_redis(redis_server.url, job, flush=True)
    assert locks[:FREE_FAILURES - 1] == [0] * (FREE_FAILURES - 1)
    assert locks[FREE_FAILURES - 1:FREE_FAILURES + 2] == [BASE_LOCK_S, 2 * BASE_LOCK_S, 4 * BASE_LOCK_S]
    assert max(locks) == MAX_LOCK_S == locks[-1]
    assert after_success == 0 and admitted is None                              # back to 5 free tries


def test_one_address_trying_many_accounts_is_blocked(redis_server: RedisServer) -> None:
    async def job(r: aioredis.Redis) -> tuple[Any, Any]:
        guard = LoginGuard(r, max_address_failures=10)
        for i in range(10):
            await guard.failed(f"user{i}@shop.example", "203.0.113.7")
        blocked = await guard.admit("someone-new@shop.example", "203.0.113.7")
        elsewhere = await guard.admit("someone-new@shop.example", "198.51.100.1")
        return blocked, elsewhere

    blocked, elsewhere = on_redis(redis_server.url, job, flush=True)
    assert blocked.reason == "address" and 0 < blocked.seconds <= 15 * 60 and elsewhere is None
