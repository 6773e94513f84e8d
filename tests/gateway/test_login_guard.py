"""Agent logins resist guessing: 5 wrong passwords lock the account for 15 minutes (the right
password too, meanwhile), with 429 + Retry-After; one address trying many accounts is blocked."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
from fastapi.testclient import TestClient

from handoff.login_guard import MAX_ACCOUNT_FAILURES, LoginGuard
from ops.redis_server import RedisServer
from retrieval.service import RetrievalService

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


def test_five_wrong_passwords_lock_the_account_not_the_others(api: TestClient,
                                                              redis_client: redis.Redis) -> None:
    assert login(api, "marie@shop.example", "nope").status_code == 401
    assert login(api, "marie@shop.example", PASSWORD).status_code == 200       # a success resets the count
    for _ in range(MAX_ACCOUNT_FAILURES):
        assert login(api, "marie@shop.example", "guess").status_code == 401
    locked = login(api, "marie@shop.example", PASSWORD)                       # even the right one
    assert locked.status_code == 429
    assert 0 < int(locked.headers["retry-after"]) <= 15 * 60
    assert locked.json()["error"] and "too many failed logins" in locked.json()["message"]
    assert login(api, "karim@shop.example", PASSWORD).status_code == 200       # other accounts unaffected
    assert not any("marie" in key for key in redis_client.keys("support:login:*"))   # hashed keys


def test_one_address_trying_many_accounts_is_blocked(redis_server: RedisServer) -> None:
    async def scenario() -> tuple[int, int]:
        r = aioredis.Redis.from_url(redis_server.url)
        await r.flushdb()
        guard = LoginGuard(r, max_address_failures=10)
        for i in range(10):
            await guard.failed(f"user{i}@shop.example", "203.0.113.7")
        blocked = await guard.blocked_for("someone-new@shop.example", "203.0.113.7")
        elsewhere = await guard.blocked_for("someone-new@shop.example", "198.51.100.1")
        await r.aclose()
        return blocked, elsewhere

    blocked, elsewhere = asyncio.run(scenario())
    assert 0 < blocked <= 15 * 60 and elsewhere == 0
