"""Manage help-desk agent accounts from a shell: `python -m handoff agents add|list|remove|passwd`.

The first admin can only be created here (the agent API needs an admin to log in).
Exit codes: 0 done, 1 interrupted, 2 refused (bad input, existing account, Redis down).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from handoff.accounts import MIN_PASSWORD_LEN, ROLES, AccountError, Accounts, normalize_email
from handoff.privacy import Privacy
from kit.redis import DEFAULT_REDIS_URL
from kit.redis import redact_url as redact

PROG = "python -m handoff"


class CliError(Exception):
    """Refused with a message for the operator (exit 2)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Help-desk administration (Redis at REDIS_URL).")
    groups = parser.add_subparsers(dest="group", required=True, metavar="agents|gdpr")
    agents = groups.add_parser("agents", help="agent accounts").add_subparsers(dest="command", required=True)

    add = agents.add_parser("add", help="create an account (prompts for the password)")
    add.add_argument("email")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--name", default="",
                     help="display name shown to colleagues and shoppers (else 'Conseiller' / 'Advisor')")
    add.add_argument("--max-conversations", type=int, default=3, metavar="N",
                     help="conversations handled at once (default 3)")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of stdin instead of prompting")

    agents.add_parser("list", help="list accounts")

    remove = agents.add_parser("remove", help="delete an account and end its sessions")
    remove.add_argument("email")

    passwd = agents.add_parser("passwd", help="set a new password (ends the agent's sessions)")
    passwd.add_argument("email")
    passwd.add_argument("--password-stdin", action="store_true",
                        help="read the password from the first line of stdin instead of prompting")

    gdpr = groups.add_parser("gdpr", help="customers' personal data (GDPR)").add_subparsers(
        dest="command", required=True)
    export = gdpr.add_parser("export", help="print everything held about a customer, as JSON")
    export.add_argument("--email", required=True)
    erase = gdpr.add_parser("erase", help="delete everything held about a customer")
    erase.add_argument("--email", required=True)
    erase.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    gdpr.add_parser("purge", help="delete what is older than the retention periods (config/shop.yml)")
    return parser


def read_password(from_stdin: bool) -> str:
    """The new password, from stdin (scripts) or typed twice without echo (people)."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise CliError("no password on stdin")
        return password
    password = getpass.getpass(f"Password (at least {MIN_PASSWORD_LEN} characters): ")
    if getpass.getpass("Repeat password: ") != password:
        raise CliError("the two passwords differ; nothing changed")
    return password


async def _add(accounts: Accounts, args: argparse.Namespace) -> None:
    password = read_password(args.password_stdin)
    agent = await accounts.add(args.email, password, args.role, name=args.name,
                               max_conversations=args.max_conversations)
    print(f"added {agent.role} {agent.email}")


async def _list(accounts: Accounts, args: argparse.Namespace) -> None:
    agents = await accounts.list()
    if not agents:
        print(f"no agent accounts; create an admin with: {PROG} agents add EMAIL --role admin",
              file=sys.stderr)
        return
    width = max(len(a.email) for a in agents)
    print(f"{'EMAIL':<{width}}  ROLE   MAX  NAME")
    for a in agents:
        print(f"{a.email:<{width}}  {a.role:<7}  {a.max_conversations:>3}  {a.name}")


async def _remove(accounts: Accounts, args: argparse.Namespace) -> None:
    if not await accounts.remove(args.email):
        raise CliError(f"no agent account for {args.email}")
    print(f"removed {normalize_email(args.email)} (its sessions are ended)")


async def _passwd(accounts: Accounts, args: argparse.Namespace) -> None:
    if await accounts.get(args.email) is None:  # before prompting for nothing
        raise CliError(f"no agent account for {args.email}")
    await accounts.set_password(args.email, read_password(args.password_stdin))
    print(f"password changed for {normalize_email(args.email)}; its sessions are ended")


async def _export(accounts: Accounts, args: argparse.Namespace) -> None:
    data = await Privacy(accounts.redis).export(args.email)
    print(json.dumps(data, ensure_ascii=False, indent=2))


async def _erase(accounts: Accounts, args: argparse.Namespace) -> None:
    privacy = Privacy(accounts.redis)
    subject = await privacy.find(args.email)
    print(f"{args.email}: {len(subject.tickets)} ticket(s), {len(subject.conversations)} conversation(s)",
          file=sys.stderr)
    if not args.yes and input("erase all of it? type 'erase' to confirm: ").strip() != "erase":
        raise CliError("not confirmed; nothing erased")
    counts = await privacy.erase(args.email)
    print(json.dumps(counts))


async def _purge(accounts: Accounts, args: argparse.Namespace) -> None:
    from shop.config import load_shop_config

    counts = await Privacy(accounts.redis).purge(load_shop_config().retention)
    print(json.dumps(counts))


COMMANDS: dict[str, Callable[[Accounts, argparse.Namespace], Awaitable[None]]] = {
    "add": _add, "list": _list, "remove": _remove, "passwd": _passwd, "export": _export, "erase": _erase,
    "purge": _purge,
}


async def run(args: argparse.Namespace, redis_url: str) -> None:
    """Connect (failing fast, without redis-py's retries), then run the command."""
    where = f"REDIS_URL={redact(redis_url)}"
    try:
        client = aioredis.Redis.from_url(redis_url, socket_connect_timeout=3, socket_timeout=10,
                                         retry=Retry(NoBackoff(), 0))
    except ValueError as exc:
        raise CliError(f"invalid {where}: {exc}") from None
    try:
        try:
            await client.ping()
        except (RedisError, OSError) as exc:
            raise CliError(f"cannot reach Redis at {where} ({exc or type(exc).__name__}); "
                           f"start it, or set REDIS_URL to the running one "
                           f"(default {DEFAULT_REDIS_URL})") from None
        try:
            await COMMANDS[args.command](Accounts(client), args)
        except (RedisError, OSError) as exc:
            raise CliError(f"Redis at {where} failed: {exc or type(exc).__name__}") from None
    finally:
        await client.aclose()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    redis_url = (os.environ.get("REDIS_URL") or "").strip() or DEFAULT_REDIS_URL
    try:
        asyncio.run(run(args, redis_url))
    except (CliError, AccountError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, EOFError):
        print("\ninterrupted; nothing changed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
