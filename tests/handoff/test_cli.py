"""`python -m handoff agents ...` as an operator runs it: a subprocess on the real test Redis."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis

from handoff import __main__ as cli
from handoff.accounts import Accounts
from ops.ports import free_port
from ops.redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"


def handoff(redis_url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REDIS_URL": redis_url}
    return subprocess.run([sys.executable, "-m", "handoff", *args], input=stdin, env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=30, start_new_session=True)


def authenticate(server: RedisServer, email: str, password: str) -> str | None:
    async def main() -> str | None:
        client = aioredis.Redis.from_url(server.url)
        try:
            agent = await Accounts(client).authenticate(email, password)
        finally:
            await client.aclose()
        return agent.role if agent else None

    return asyncio.run(main())


def test_add_list_passwd_remove(redis_server: RedisServer, redis_client: redis.Redis) -> None:
    url = redis_server.url
    added = handoff(url, "agents", "add", "Alice@Example.com", "--role", "admin", "--name", "Alice Martin",
                    "--max-conversations", "4", "--password-stdin", stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert "added admin alice@example.com" in added.stdout
    assert PASSWORD not in added.stdout + added.stderr and "$argon2" not in added.stdout + added.stderr
    assert authenticate(redis_server, "alice@example.com", PASSWORD) == "admin"

    assert handoff(url, "agents", "add", "bob@example.com", "--role", "agent", "--password-stdin",
                   stdin=PASSWORD + "\n").returncode == 0
    listed = handoff(url, "agents", "list")
    assert listed.returncode == 0, listed.stderr
    rows = [line.split() for line in listed.stdout.splitlines()]
    assert rows == [["EMAIL", "ROLE", "MAX", "NAME"], ["alice@example.com", "admin", "4", "Alice", "Martin"],
                    ["bob@example.com", "agent", "3"]]
    assert "$argon2" not in listed.stdout

    passwd = handoff(url, "agents", "passwd", "bob@example.com", "--password-stdin",
                     stdin="another long secret\n")
    assert passwd.returncode == 0, passwd.stderr
    assert authenticate(redis_server, "bob@example.com", "another long secret") == "agent"

    removed = handoff(url, "agents", "remove", "bob@example.com")
    assert removed.returncode == 0 and "removed bob@example.com" in removed.stdout
    assert redis_client.smembers("support:agents") == {"alice@example.com"}


def test_refusals_exit_2_with_a_clear_message(redis_server: RedisServer, redis_client: redis.Redis) -> None:
    url = redis_server.url
    args = ("agents", "add", "alice@example.com", "--role", "agent", "--password-stdin")
    assert handoff(url, *args, stdin=PASSWORD + "\n").returncode == 0
    again = handoff(url, *args, stdin=PASSWORD + "\n")
    assert again.returncode == 2
    assert "error: an agent account for alice@example.com already exists" in again.stderr

    short = handoff(url, "agents", "add", "bob@example.com", "--role", "agent", "--password-stdin",
                    stdin="short\n")
    assert short.returncode == 2 and "at least 10 characters" in short.stderr
    missing = handoff(url, "agents", "remove", "nobody@example.com")
    assert missing.returncode == 2 and "no agent account for nobody@example.com" in missing.stderr


def test_unreachable_redis_exits_2_naming_redis_url() -> None:
    closed = f"redis://127.0.0.1:{free_port()}/0"
    result = handoff(closed, "agents", "list")
    assert result.returncode == 2
    assert "REDIS_URL" in result.stderr and closed in result.stderr
    assert "Traceback" not in result.stderr


def test_prompted_passwords_must_match(redis_server: RedisServer, redis_client: redis.Redis,
                                       monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """Without --password-stdin the password is typed twice (getpass, no echo)."""
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    typed = iter([PASSWORD, PASSWORD + "x"])
    monkeypatch.setattr(cli.getpass, "getpass", lambda prompt="": next(typed))
    assert cli.main(["agents", "add", "alice@example.com", "--role", "agent"]) == 2
    assert "the two passwords differ" in capsys.readouterr().err
    assert redis_client.smembers("support:agents") == set()

    typed = iter([PASSWORD, PASSWORD])
    assert cli.main(["agents", "add", "alice@example.com", "--role", "agent"]) == 0
    assert redis_client.smembers("support:agents") == {"alice@example.com"}
