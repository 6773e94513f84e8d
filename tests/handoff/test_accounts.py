"""Agent accounts and sessions against a real Redis: argon2 hashes, hashed tokens, expiry."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
import redis
from argon2 import PasswordHasher

from handoff.accounts import AccountError, Accounts, Agent, token_digest
from kit.keys import AGENTS, PRESENCE, SESSIONS_ENDED
from ops.redis_server import RedisServer
from tests.helpers import on_redis

T = TypeVar("T")
PASSWORD = "correct horse battery"
# Cheap argon2id parameters keep the suite fast; one test checks the production defaults.
FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


class CountingHasher(PasswordHasher):
    """Counts argon2 verifications, to check unknown e-mails cost the same work."""

    def __init__(self, **kwargs: int) -> None:
        super().__init__(**kwargs)
        self.verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.verified += 1
        return super().verify(hash, password)


def run(server: RedisServer, scenario: Callable[[Accounts], Awaitable[T]], *,
        hasher: PasswordHasher = FAST, decode: bool = False) -> T:
    """Run `scenario` with Accounts on a fresh async client of the test Redis."""
    return on_redis(server.url, lambda client: scenario(Accounts(client, hasher=hasher)), decode=decode)


def dump(client: redis.Redis) -> str:
    """Every key and value in the db as one string, to search for secrets."""
    out = []
    for key in client.scan_iter():
        kind = client.type(key)
        value = {"string": client.get, "hash": client.hgetall, "set": client.smembers,
                 "zset": lambda k: client.zrange(k, 0, -1, withscores=True),
                 "list": lambda k: client.lrange(k, 0, -1)}[kind](key)
        out.append(f"{key} {value}")
    return "\n".join(out)


@pytest.mark.parametrize("decode", [False, True], ids=["bytes", "str"])
def test_add_get_list_remove(redis_server: RedisServer, redis_client: redis.Redis, decode: bool) -> None:
    async def scenario(accounts: Accounts) -> tuple:
        added = await accounts.add("Alice@Example.COM", PASSWORD, "admin", name=" Alice ",
                                   max_conversations=5)
        await accounts.add("bob@example.com", PASSWORD)
        got = await accounts.get("ALICE@example.com")
        listed = await accounts.list()
        removed = await accounts.remove("alice@example.com")
        again = await accounts.remove("alice@example.com")
        gone = await accounts.get("alice@example.com")
        return added, got, listed, removed, again, gone, await accounts.list()

    added, got, listed, removed, again, gone, left = run(redis_server, scenario, decode=decode)
    assert added == got
    assert got.email == "alice@example.com" and got.role == "admin" and got.is_admin
    assert got.name == "Alice" and got.max_conversations == 5
    assert abs(got.created_at - time.time()) < 60
    assert [a.email for a in listed] == ["alice@example.com", "bob@example.com"]
    assert listed[1] == Agent(email="bob@example.com", role="agent", name="", max_conversations=3,
                              created_at=listed[1].created_at)
    assert (removed, again, gone) == (True, False, None)
    assert [a.email for a in left] == ["bob@example.com"]
    assert redis_client.smembers(AGENTS) == {"bob@example.com"}
    assert not redis_client.exists("support:agent:alice@example.com")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"email": "ALICE@example.com"}, "already exists"),
    ({"role": "boss"}, "role must be one of agent, manager, admin"),
    ({"password": "short"}, "at least 10 characters"),
    ({"email": "not an e-mail"}, "invalid e-mail address"),
    ({"max_conversations": 0}, "max_conversations"),
    ({"name": "two\nlines"}, "one line"),
])
def test_invalid_accounts_are_refused_with_a_clear_message(
        redis_server: RedisServer, redis_client: redis.Redis, kwargs: dict, message: str) -> None:
    async def scenario(accounts: Accounts) -> None:
        await accounts.add("alice@example.com", PASSWORD)
        args = {"email": "carol@example.com", "password": PASSWORD, "role": "agent", **kwargs}
        with pytest.raises(AccountError, match=message):
            await accounts.add(args.pop("email"), args.pop("password"), args.pop("role"), **args)

    run(redis_server, scenario)
    assert redis_client.smembers(AGENTS) == {"alice@example.com"}


def test_authenticate_costs_the_same_argon2_work_for_unknown_emails(
        redis_server: RedisServer, redis_client: redis.Redis) -> None:
    hasher = CountingHasher(time_cost=1, memory_cost=1024, parallelism=1)

    async def scenario(accounts: Accounts) -> list:
        await accounts.add("alice@example.com", PASSWORD)
        results = []
        for email, password in [("Alice@example.com", PASSWORD), ("alice@example.com", PASSWORD + "!"),
                                ("nobody@example.com", PASSWORD), ("not-an-email", PASSWORD)]:
            before = hasher.verified
            agent = await accounts.authenticate(email, password)
            results.append((agent.email if agent else None, hasher.verified - before))
        return results

    assert run(redis_server, scenario, hasher=hasher) == [
        ("alice@example.com", 1), (None, 1), (None, 1), (None, 1)]


def test_only_an_argon2id_hash_is_stored_never_the_password(
        redis_server: RedisServer, redis_client: redis.Redis) -> None:
    async def scenario(accounts: Accounts) -> str | None:  # production parameters here
        await accounts.add("alice@example.com", PASSWORD)
        await accounts.login("alice@example.com", PASSWORD)
        agent = await accounts.authenticate("alice@example.com", PASSWORD)
        return agent.email if agent else None

    assert run(redis_server, scenario, hasher=PasswordHasher()) == "alice@example.com"
    stored = redis_client.hget("support:agent:alice@example.com", "password_hash")
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in dump(redis_client)


def test_a_hash_with_outdated_parameters_is_upgraded_on_login(
        redis_server: RedisServer, redis_client: redis.Redis) -> None:
    key = "support:agent:alice@example.com"
    run(redis_server, lambda accounts: accounts.add("alice@example.com", PASSWORD), hasher=FAST)
    old = redis_client.hget(key, "password_hash")
    stronger = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    assert run(redis_server, lambda accounts: accounts.login("alice@example.com", PASSWORD),
               hasher=stronger) is not None
    new = redis_client.hget(key, "password_hash")
    assert new != old and not stronger.check_needs_rehash(new)
    assert run(redis_server, lambda accounts: accounts.authenticate("alice@example.com", PASSWORD),
               hasher=stronger) is not None


def test_login_gives_a_token_for_the_agent_until_logout(
        redis_server: RedisServer, redis_client: redis.Redis) -> None:
    async def scenario(accounts: Accounts) -> tuple:
        await accounts.add("alice@example.com", PASSWORD, "admin")
        wrong = await accounts.login("alice@example.com", "wrong password")
        token, agent = await accounts.login("ALICE@example.com", PASSWORD)
        other, _ = await accounts.login("alice@example.com", PASSWORD)  # a second device
        seen = await accounts.agent_for_token(token)
        ttl = await accounts.redis.ttl(f"support:session:{token_digest(token)}")
        logged_out, twice = await accounts.logout(token), await accounts.logout(token)
        return (wrong, token, agent, seen, ttl, logged_out, twice, await accounts.agent_for_token(token),
                await accounts.agent_for_token(other), await accounts.agent_for_token("x" * 43))

    wrong, token, agent, seen, ttl, logged_out, twice, after, other, forged = run(redis_server, scenario)
    assert wrong is None
    assert len(token) >= 40 and agent.email == "alice@example.com" and seen == agent
    assert 12 * 3600 - 60 < ttl <= 12 * 3600
    assert (logged_out, twice, after) == (True, False, None)
    assert other == agent  # logging out one session leaves the others
    assert forged is None
    assert redis_client.smembers("support:agent-sessions:alice@example.com") != set()


def test_the_raw_token_is_never_stored(redis_server: RedisServer, redis_client: redis.Redis) -> None:
    async def scenario(accounts: Accounts) -> str:
        await accounts.add("alice@example.com", PASSWORD)
        token, _ = await accounts.login("alice@example.com", PASSWORD)
        return token

    token = run(redis_server, scenario)
    everything = dump(redis_client)
    assert token not in everything
    assert redis_client.get(f"support:session:{token_digest(token)}") == "alice@example.com"
    assert redis_client.smembers("support:agent-sessions:alice@example.com") == {token_digest(token)}


def test_sessions_expire(redis_server: RedisServer, redis_client: redis.Redis) -> None:
    async def scenario(accounts: Accounts) -> tuple:
        await accounts.add("alice@example.com", PASSWORD)
        token, _ = await accounts.login("alice@example.com", PASSWORD, ttl_s=1)
        fresh = await accounts.agent_for_token(token)
        await asyncio.sleep(1.5)
        expired = await accounts.agent_for_token(token)
        await accounts.login("alice@example.com", PASSWORD)  # forgets the expired digest
        return fresh, expired, token

    fresh, expired, token = run(redis_server, scenario)
    assert fresh is not None and expired is None
    sessions = redis_client.smembers("support:agent-sessions:alice@example.com")
    assert len(sessions) == 1 and token_digest(token) not in sessions


def test_removing_an_account_ends_its_sessions_even_if_it_is_recreated(
        redis_server: RedisServer, redis_client: redis.Redis) -> None:
    async def scenario(accounts: Accounts) -> tuple:
        await accounts.add("alice@example.com", PASSWORD)
        await accounts.add("bob@example.com", PASSWORD)
        token, _ = await accounts.login("alice@example.com", PASSWORD)
        bob_token, _ = await accounts.login("bob@example.com", PASSWORD)
        await accounts.remove("alice@example.com")
        await accounts.add("alice@example.com", PASSWORD)
        return await accounts.agent_for_token(token), await accounts.agent_for_token(bob_token)

    alice, bob = run(redis_server, scenario)
    assert alice is None and bob is not None and bob.email == "bob@example.com"
    (bob_digest,) = redis_client.smembers("support:agent-sessions:bob@example.com")
    assert redis_client.keys("support:session:*") == [f"support:session:{bob_digest}"]
    assert not redis_client.exists("support:agent-sessions:alice@example.com")


def test_set_password_replaces_it_and_ends_sessions(redis_server: RedisServer,
                                                     redis_client: redis.Redis) -> None:
    async def scenario(accounts: Accounts) -> tuple:
        await accounts.add("alice@example.com", PASSWORD)
        token, _ = await accounts.login("alice@example.com", PASSWORD)
        await accounts.set_password("Alice@example.com", "a brand new secret")
        with pytest.raises(AccountError, match="no agent account"):
            await accounts.set_password("nobody@example.com", "a brand new secret")
        with pytest.raises(AccountError, match="too short"):
            await accounts.set_password("alice@example.com", "short")
        return (await accounts.agent_for_token(token),
                await accounts.authenticate("alice@example.com", PASSWORD),
                await accounts.authenticate("alice@example.com", "a brand new secret"))

    session, old, new = run(redis_server, scenario)
    assert session is None and old is None and new is not None


def test_ending_sessions_is_announced_to_every_gateway(redis_server: RedisServer) -> None:
    """Logout, a new password and removal publish on SESSIONS_ENDED (the consoles' sockets close
    on it, in every gateway); the last two also take the agent off the presence list."""
    async def scenario(accounts: Accounts) -> tuple:
        await accounts.redis.flushdb()
        pubsub = accounts.redis.pubsub()
        await pubsub.subscribe(SESSIONS_ENDED)
        assert (await pubsub.get_message(timeout=5.0) or {}).get("type") == "subscribe"
        await accounts.add("alice@example.com", PASSWORD)
        token, _ = await accounts.login("alice@example.com", PASSWORD)
        await accounts.logout(token)
        await accounts.logout(token)                                   # not active: no notice
        await accounts.redis.zadd(PRESENCE, {"alice@example.com": time.time()})
        await accounts.set_password("alice@example.com", "a brand new secret")
        online_after_reset = await accounts.redis.zscore(PRESENCE, "alice@example.com")
        await accounts.redis.zadd(PRESENCE, {"alice@example.com": time.time()})
        await accounts.remove("alice@example.com")
        notices = []
        while (item := await pubsub.get_message(timeout=1.0)) is not None:   # in order, then none
            notices.append(json.loads(item["data"]))
        await pubsub.aclose()
        return notices, online_after_reset, await accounts.redis.zscore(PRESENCE, "alice@example.com")

    notices, online_after_reset, online_after_removal = run(redis_server, scenario)
    assert notices == [{"email": "alice@example.com"}] * 3
    assert online_after_reset is None and online_after_removal is None
