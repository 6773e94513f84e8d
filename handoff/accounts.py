"""Help-desk agent accounts and their login sessions (Redis).

Passwords are stored only as argon2id hashes, session tokens only as SHA-256
digests, so a copy of the Redis data (AOF, backup) lets nobody log in. Creating a
session and removing an account are single Lua scripts: a login racing a removal
can never leave a live session behind for a deleted (or later re-created) account.
Ending sessions (logout, new password, removal) is announced on SESSIONS_ENDED, so every
gateway closes the console sockets those sessions opened, even when the CLI did it.
"""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from functools import cache

import redis.asyncio as aioredis
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email

from kit.keys import AGENT, AGENT_SESSIONS, AGENTS, PRESENCE, SESSION, SESSIONS_ENDED
from kit.redis import decoded
from kit.texts import LANGS

ROLES = ("agent", "manager", "admin", "editor")   # editor: the FAQ studio only
ANALYTICS_ROLES = ("manager", "admin")   # who sees the dashboard and its API
MIN_PASSWORD_LEN = 10
MAX_PASSWORD_LEN = 1024    # argon2 takes any length; this only bounds the work per attempt
MAX_NAME_LEN = 100
DEFAULT_SESSION_TTL_S = 12 * 3600

# KEYS: agent hash, agents set; ARGV: email, then field/value pairs.
_ADD = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('SADD', KEYS[2], ARGV[1])
return 1
"""

# KEYS: agent hash, session key, agent-sessions set;
# ARGV: email, ttl, digest, session prefix, the password hash just verified.
# Refuses if the account was removed or its password changed since the check; also forgets
# digests of sessions that have expired, so the set stays small.
_LOGIN = """
if redis.call('HGET', KEYS[1], 'password_hash') ~= ARGV[5] then return 0 end
for _, d in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  if redis.call('EXISTS', ARGV[4] .. d) == 0 then redis.call('SREM', KEYS[3], d) end
end
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])
redis.call('SADD', KEYS[3], ARGV[3])
return 1
"""

# KEYS: agent hash; ARGV: new hash, expected current hash ('' = any). 1 if replaced.
_SET_HASH = """
local current = redis.call('HGET', KEYS[1], 'password_hash')
if not current then return 0 end
if ARGV[2] ~= '' and current ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'password_hash', ARGV[1])
return 1
"""

# KEYS: agent hash; ARGV: field, value. 1 if set; never re-creates a removed account.
_SET_FIELD = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""

# KEYS: agent hash, agent-sessions set, agents set; ARGV: email, session prefix.
_END_SESSIONS = """
for _, d in ipairs(redis.call('SMEMBERS', KEYS[2])) do redis.call('DEL', ARGV[2] .. d) end
redis.call('DEL', KEYS[2])
"""
_REMOVE = _END_SESSIONS + """
redis.call('SREM', KEYS[3], ARGV[1])
return redis.call('DEL', KEYS[1])
"""


class AccountError(ValueError):
    """An account operation was refused; the message says why (safe to show to an admin)."""


@dataclass(frozen=True)
class Agent:
    email: str                  # lower-case, validated
    role: str                   # agent | manager (agent + dashboard) | admin
    name: str = ""
    max_conversations: int = 3  # conversations an agent handles at once
    created_at: float = 0.0     # epoch seconds
    lang: str = ""              # the console's language, "fr" | "en"; "" = the browser's

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def normalize_email(email: str) -> str:
    """The canonical (lower-case) form used as the account key; AccountError if invalid."""
    try:
        checked = validate_email(str(email).strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise AccountError(f"invalid e-mail address {email!r}: {exc}") from None
    return checked.normalized.lower()


def token_digest(token: str) -> str:
    """How a session token is stored: its SHA-256, so the Redis data alone cannot log in."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    """A hash with the hasher's parameters, verified for unknown e-mails to spend the same time."""
    return hasher.hash(secrets.token_urlsafe(16))


class Accounts:
    """Agent accounts and sessions. argon2 runs in a worker thread so it never stalls the event loop."""

    def __init__(self, redis: aioredis.Redis, *, hasher: PasswordHasher | None = None) -> None:
        self.redis = redis
        self.hasher = hasher or PasswordHasher()
        self._add = redis.register_script(_ADD)
        self._login = redis.register_script(_LOGIN)
        self._remove = redis.register_script(_REMOVE)
        self._set_hash = redis.register_script(_SET_HASH)
        self._end_sessions = redis.register_script(_END_SESSIONS)
        self._set_field = redis.register_script(_SET_FIELD)

    # -- accounts ------------------------------------------------------------

    async def add(self, email: str, password: str, role: str = "agent", *, name: str = "",
                  max_conversations: int = 3) -> Agent:
        """Create an account; AccountError if the e-mail exists or a value is invalid."""
        email = normalize_email(email)
        if role not in ROLES:
            raise AccountError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        name = name.strip()
        if len(name) > MAX_NAME_LEN or any(ch < " " for ch in name):
            raise AccountError(f"name must be one line of at most {MAX_NAME_LEN} characters")
        if isinstance(max_conversations, bool) or not isinstance(max_conversations, int) \
                or not 1 <= max_conversations <= 100:
            raise AccountError(f"max_conversations must be an integer from 1 to 100, "
                               f"not {max_conversations!r}")
        _check_password(password)
        if await self.redis.exists(AGENT.format(email=email)):  # fail fast, before hashing
            raise AccountError(f"an agent account for {email} already exists")
        agent = Agent(email=email, role=role, name=name, max_conversations=max_conversations,
                      created_at=time.time())
        password_hash = await asyncio.to_thread(self.hasher.hash, password)
        fields = {"email": email, "role": role, "name": name, "max_conversations": max_conversations,
                  "created_at": repr(agent.created_at), "password_hash": password_hash}
        args = [email, *(str(x) for pair in fields.items() for x in pair)]
        if not await self._add(keys=[AGENT.format(email=email), AGENTS], args=args):
            raise AccountError(f"an agent account for {email} already exists")
        return agent

    async def get(self, email: str) -> Agent | None:
        found = await self._load(email)
        return found[0] if found else None

    async def list(self) -> builtins.list[Agent]:
        """All accounts, sorted by e-mail."""
        emails = sorted(_text(e) for e in await self.redis.smembers(AGENTS))
        async with self.redis.pipeline(transaction=False) as pipe:
            for email in emails:
                pipe.hgetall(AGENT.format(email=email))
            rows = await pipe.execute()
        return [_agent(row) for row in map(decoded, rows) if row]

    async def remove(self, email: str) -> bool:
        """Delete the account and end all its sessions; False if there was no such account."""
        try:
            email = normalize_email(email)
        except AccountError:
            return False
        keys = [AGENT.format(email=email), AGENT_SESSIONS.format(email=email), AGENTS]
        if not await self._remove(keys=keys, args=[email, SESSION.format(digest="")]):
            return False
        await self._ended(email, offline=True)
        return True

    async def set_password(self, email: str, password: str, *, end_sessions: bool = True) -> None:
        """Replace the password; by default also logs the agent out everywhere (a reset after a
        leak must lock the old holder out). AccountError if unknown or too short."""
        email = normalize_email(email)
        _check_password(password)
        key = AGENT.format(email=email)
        if not await self.redis.exists(key):
            raise AccountError(f"no agent account for {email}")
        password_hash = await asyncio.to_thread(self.hasher.hash, password)
        if not await self._set_hash(keys=[key], args=[password_hash, ""]):
            raise AccountError(f"no agent account for {email}")  # removed meanwhile
        if end_sessions:
            await self._end_sessions(keys=[key, AGENT_SESSIONS.format(email=email)],
                                     args=[email, SESSION.format(digest="")])
            await self._ended(email, offline=True)

    async def set_lang(self, email: str, lang: str) -> None:
        """The language the agent chose for the console and the dashboard ("fr" | "en");
        AccountError for another language or an unknown account."""
        if lang not in LANGS:
            raise AccountError(f"language must be one of {', '.join(LANGS)}")
        email = normalize_email(email)
        if not await self._set_field(keys=[AGENT.format(email=email)], args=["lang", lang]):
            raise AccountError(f"no agent account for {email}")

    async def authenticate(self, email: str, password: str) -> Agent | None:
        """The agent if the password is right, else None. An unknown e-mail costs the same argon2
        work as a wrong password, so response times don't reveal which accounts exist."""
        checked = await self._authenticate(email, password)
        return checked[0] if checked else None

    # -- sessions ------------------------------------------------------------

    async def login(self, email: str, password: str, *,
                    ttl_s: int = DEFAULT_SESSION_TTL_S) -> tuple[str, Agent] | None:
        """(token, agent) for the right password, else None. The session ends `ttl_s` after login
        (absolute, not sliding: using a stolen token does not keep it alive)."""
        if isinstance(ttl_s, bool) or not isinstance(ttl_s, int) or ttl_s < 1:
            raise ValueError(f"ttl_s must be a positive integer, not {ttl_s!r}")
        checked = await self._authenticate(email, password)
        if checked is None:
            return None
        agent, password_hash = checked
        token = secrets.token_urlsafe(32)
        digest = token_digest(token)
        keys = [AGENT.format(email=agent.email), SESSION.format(digest=digest),
                AGENT_SESSIONS.format(email=agent.email)]
        args = [agent.email, ttl_s, digest, SESSION.format(digest=""), password_hash]
        # 0: the account was removed or its password changed since the check.
        return (token, agent) if await self._login(keys=keys, args=args) else None

    async def agent_for_token(self, token: str) -> Agent | None:
        """The logged-in agent for a session token, or None (unknown, expired, logged out)."""
        if not isinstance(token, str) or not 20 <= len(token) <= 256:
            return None
        email = await self.redis.get(SESSION.format(digest=token_digest(token)))
        return await self.get(_text(email)) if email else None

    async def logout(self, token: str) -> bool:
        """End the session; False if it was not active."""
        if not isinstance(token, str) or not token:
            return False
        digest = token_digest(token)
        key = SESSION.format(digest=digest)
        email = await self.redis.get(key)
        if not email:
            return False
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.srem(AGENT_SESSIONS.format(email=_text(email)), digest)
            deleted, _ = await pipe.execute()
        await self._ended(_text(email))
        return bool(deleted)

    # -- internals -----------------------------------------------------------

    async def _ended(self, email: str, *, offline: bool = False) -> None:
        """Tell every gateway that sessions of `email` ended: its console sockets re-check their
        token and close if it is dead. `offline`: no session is left, so no presence either."""
        if offline:
            await self.redis.zrem(PRESENCE, email)
        await self.redis.publish(SESSIONS_ENDED, json.dumps({"email": email}))

    async def _authenticate(self, email: str, password: str) -> tuple[Agent, str] | None:
        """The agent and its current password hash (rehashed if the parameters changed)."""
        usable = isinstance(password, str) and len(password) <= MAX_PASSWORD_LEN
        found = await self._load(email) if usable else None
        if found is None:
            await asyncio.to_thread(_verify_dummy, self.hasher, password if usable else "")
            return None
        agent, password_hash = found
        if not await asyncio.to_thread(_verify, self.hasher, password_hash, password):
            return None
        if self.hasher.check_needs_rehash(password_hash):
            new_hash = await asyncio.to_thread(self.hasher.hash, password)
            key = AGENT.format(email=agent.email)
            if await self._set_hash(keys=[key], args=[new_hash, password_hash]):  # if unchanged
                password_hash = new_hash
        return agent, password_hash

    async def _load(self, email: str) -> tuple[Agent, str] | None:
        """The agent and its password hash."""
        try:
            email = normalize_email(email)
        except AccountError:
            return None
        row = decoded(await self.redis.hgetall(AGENT.format(email=email)))
        if not row or "password_hash" not in row:
            return None
        return _agent(row), row["password_hash"]


def _check_password(password: str) -> None:
    if not isinstance(password, str):
        raise AccountError("password must be a string")
    if len(password) < MIN_PASSWORD_LEN:
        raise AccountError(f"password too short: use at least {MIN_PASSWORD_LEN} characters")
    if len(password) > MAX_PASSWORD_LEN:
        raise AccountError(f"password too long: at most {MAX_PASSWORD_LEN} characters")


def _verify_dummy(hasher: PasswordHasher, password: str) -> None:
    _verify(hasher, _dummy_hash(hasher), password)


def _verify(hasher: PasswordHasher, password_hash: str, password: str) -> bool:
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _agent(row: dict[str, str]) -> Agent:
    return Agent(email=row["email"], role=row.get("role", "agent"), name=row.get("name", ""),
                 max_conversations=int(row.get("max_conversations") or 3),
                 created_at=float(row.get("created_at") or 0.0),
                 lang=row["lang"] if row.get("lang") in LANGS else "")


def _text(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else (value or "")
