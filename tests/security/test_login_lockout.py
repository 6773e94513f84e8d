"""Issue 14, "lockout bypass by Unicode" and "lockout as a weapon", on the real gateway app and
the session Redis.

- The lock keyed on the raw e-mail while login normalised it: after 5 failures,
  `victim@ｓｈｏｐ.example` (full-width) still logged in and `victim@shop。example` kept guessing.
- 5 bad passwords from anywhere locked the owner out for 15 minutes, again and again.

Client addresses come from the connection (uvicorn's `request.client`); the test sets them per
request through a one-line ASGI shim, as different hosts would.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from handoff.login_guard import ACCOUNT_BURST, ACCOUNT_INTERVAL_S, FREE_FAILURES, MAX_ADDRESS_FAILURES
from ops.redis_server import RedisServer
from tests.gateway.helpers import PASSWORD, add_accounts
from tests.gateway.web_client import ReadyIndex

pytestmark = pytest.mark.timeout(120)
OWNER, ATTACKER = "198.51.100.10", "203.0.113.66"
FULL_WIDTH_DOMAIN = "victim@ｓｈｏｐ.example"
IDEOGRAPHIC_DOT = "victim@shop。example"


class PeerFromHeader:
    """Sets the ASGI client address from `x-test-peer`: one app seen from several hosts."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            peer = dict(scope["headers"]).get(b"x-test-peer")
            if peer:
                scope = {**scope, "client": (peer.decode(), 50000)}
        await self.app(scope, receive, send)


@pytest.fixture
def api(app_factory: Callable[..., Any], redis_client: redis.Redis,
        redis_server: RedisServer) -> Iterator[TestClient]:
    redis_client.flushdb()
    add_accounts(redis_server.url, victim="agent")
    with TestClient(PeerFromHeader(app_factory(retrieval=ReadyIndex()))) as client:
        yield client


def login(api: TestClient, email: str, password: str, peer: str = ATTACKER) -> Any:
    return api.post("/api/agent/login", json={"email": email, "password": password},
                    headers={"x-test-peer": peer})


def test_unicode_spellings_of_the_email_share_its_lock(api: TestClient) -> None:
    for spelling in ("victim@shop.example", "VICTIM@shop.example", FULL_WIDTH_DOMAIN, IDEOGRAPHIC_DOT,
                     " Victim@Shop.Example ")[:FREE_FAILURES]:
        assert login(api, spelling, "guess").status_code == 401    # each counts for the same account
    for spelling in (FULL_WIDTH_DOMAIN, IDEOGRAPHIC_DOT, "victim@shop.example"):
        assert login(api, spelling, "another guess").status_code == 429, spelling
    bypass = login(api, FULL_WIDTH_DOMAIN, PASSWORD)                # was 200: a spelling escaped the lock
    assert bypass.status_code == 429 and int(bypass.headers["retry-after"]) > 0


def test_a_stranger_cannot_lock_the_owner_out(api: TestClient) -> None:
    for _ in range(3):   # the attack, repeated: each round would have locked the account for 15 minutes
        for _ in range(FREE_FAILURES):
            assert login(api, "victim@shop.example", "guess").status_code in (401, 429)
        assert login(api, "victim@shop.example", PASSWORD).status_code == 429   # locked... for them
    owner = login(api, "victim@shop.example", PASSWORD, peer=OWNER)
    assert owner.status_code == 200, owner.text


def test_the_guesser_is_locked_for_a_minute_first(api: TestClient) -> None:
    for _ in range(FREE_FAILURES):
        assert login(api, "victim@shop.example", "guess").status_code == 401
    first = int(login(api, "victim@shop.example", "guess").headers["retry-after"])
    assert 0 < first <= 60                                          # then 2, 4, 8... minutes, not 15 at once


def test_guesses_from_many_addresses_slow_the_account_by_seconds_only(api: TestClient) -> None:
    assert login(api, "victim@shop.example", PASSWORD, peer=OWNER).status_code == 200   # her usual place
    started, statuses = time.monotonic(), []
    while 429 not in statuses and len(statuses) < 100:              # a botnet, one guess per host
        host = f"192.0.2.{len(statuses)}"
        statuses.append(login(api, "victim@shop.example", "guess", peer=host).status_code)
    # from a new place the owner is slowed by a few seconds, never locked out
    slowed = login(api, "victim@shop.example", PASSWORD, peer="198.51.100.77")
    elapsed = time.monotonic() - started
    assert statuses[-1] == 429 and statuses.count(401) <= ACCOUNT_BURST + elapsed / ACCOUNT_INTERVAL_S
    assert slowed.status_code == 429 and "few seconds" in slowed.json()["message"]
    wait = int(slowed.headers["retry-after"])
    assert 0 < wait <= ACCOUNT_INTERVAL_S
    # where she usually logs in she is not even slowed
    assert login(api, "victim@shop.example", PASSWORD, peer=OWNER).status_code == 200
    time.sleep(wait)
    assert login(api, "victim@shop.example", PASSWORD, peer="198.51.100.77").status_code == 200


def test_one_host_trying_many_accounts_is_still_blocked(api: TestClient) -> None:
    for i in range(MAX_ADDRESS_FAILURES):
        assert login(api, f"user{i}@shop.example", "guess").status_code == 401
    blocked = login(api, "victim@shop.example", PASSWORD)
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    assert login(api, "victim@shop.example", PASSWORD, peer=OWNER).status_code == 200
