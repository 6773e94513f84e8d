"""Canned replies: an agent's common answers, in French and English, with variables.

Admins manage them (Redis, one hash for every gateway); the shop's starting set is
config/canned_replies.yml, copied in the first time anyone asks. A reply is rendered for one
conversation before insertion, and the agent may still edit it: a variable the conversation
cannot fill (no first name known) is left out with the space before it, never shown as
"{first_name}".
"""

from __future__ import annotations

import json
import re
import secrets
import string
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import redis.asyncio as aioredis
import yaml

from kit.keys import CANNED
from kit.redis import text

VARIABLES = ("first_name", "order_number", "agent", "next_opening")
LANGS = ("fr", "en")
MAX_REPLIES = 300
SEEDED = "__seeded__"  # a field of the hash: the defaults were copied once (never again)
SHORTCUT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,29}$")
DEFAULTS = Path(__file__).resolve().parents[1] / "config" / "canned_replies.yml"


class CannedError(ValueError):
    """A reply refused; `key` and `params` name the message for the console's texts."""

    def __init__(self, message: str, key: str, **params: str | int):
        super().__init__(message)
        self.key = key
        self.params = params


@dataclass(frozen=True)
class CannedReply:
    id: str
    shortcut: str
    lang: str
    title: str
    body: str
    updated_by: str = ""
    updated_at: float = 0.0


def check(shortcut: str, lang: str, title: str, body: str) -> None:
    """A reply's fields as the console's `/` menu needs them; variables only from VARIABLES."""
    if not SHORTCUT.fullmatch(shortcut):
        raise CannedError("shortcut: 1-30 lowercase letters, digits, - or _", "canned_shortcut")
    if lang not in LANGS:
        raise CannedError("lang: fr or en", "canned_lang")
    if not title.strip() or len(title) > 80:
        raise CannedError("title: 1-80 characters", "canned_title")
    if not body.strip() or len(body) > 2000:
        raise CannedError("body: 1-2000 characters", "canned_body")
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(body) if name is not None}
    except ValueError as exc:
        raise CannedError(f"body: {exc} (write {{{{ and }}}} for literal braces)", "canned_braces") from exc
    unknown = sorted(names - set(VARIABLES))
    if unknown:
        raise CannedError(f"body: unknown variable {{{unknown[0]}}}; use {', '.join(VARIABLES)}",
                          "canned_variable", variable=unknown[0], variables=", ".join(VARIABLES))


_EMPTY = re.compile(r"[ \t]*\{(" + "|".join(VARIABLES) + r")\}")


def render(body: str, values: dict[str, str]) -> str:
    """The body with its variables filled; an empty one disappears with the space before it."""

    def fill(match: re.Match[str]) -> str:
        value = (values.get(match.group(1)) or "").strip()
        return match.group(0)[: match.start(1) - 1 - match.start(0)] + value if value else ""

    filled = _EMPTY.sub(fill, body)
    return filled.replace("{{", "{").replace("}}", "}")


class CannedReplies:
    def __init__(self, redis: aioredis.Redis, defaults: Path = DEFAULTS):
        self.redis = redis
        self.defaults = defaults

    async def _seed(self) -> None:
        if await self.redis.hexists(CANNED, SEEDED) or not self.defaults.exists():
            return
        rows = yaml.safe_load(self.defaults.read_text(encoding="utf-8")) or []
        mapping = {}
        for row in rows:
            reply = CannedReply(
                id=_new_id(),
                shortcut=str(row["shortcut"]),
                lang=str(row["lang"]),
                title=str(row["title"]),
                body=str(row["body"]),
                updated_at=time.time(),
            )
            check(reply.shortcut, reply.lang, reply.title, reply.body)
            mapping[reply.id] = json.dumps(asdict(reply), ensure_ascii=False)
        if await self.redis.hsetnx(CANNED, SEEDED, "1") and mapping:  # two first reads: one seeds
            await self.redis.hset(CANNED, mapping=mapping)

    async def all(self, lang: str | None = None) -> list[CannedReply]:
        await self._seed()
        out = [
            CannedReply(**json.loads(raw))
            for key, raw in (await self.redis.hgetall(CANNED)).items()
            if text(key) != SEEDED
        ]
        return sorted((r for r in out if lang is None or r.lang == lang), key=lambda r: (r.lang, r.shortcut))

    async def get(self, reply_id: str) -> CannedReply | None:
        raw = await self.redis.hget(CANNED, reply_id) if reply_id != SEEDED else None
        return CannedReply(**json.loads(raw)) if raw else None

    async def save(
        self, *, shortcut: str, lang: str, title: str, body: str, by: str, reply_id: str = ""
    ) -> CannedReply:
        check(shortcut, lang, title, body)
        await self._seed()
        if reply_id and await self.get(reply_id) is None:
            raise KeyError(reply_id)
        if not reply_id and await self.redis.hlen(CANNED) > MAX_REPLIES:
            raise CannedError(f"at most {MAX_REPLIES} canned replies", "canned_max", max=MAX_REPLIES)
        reply = CannedReply(
            id=reply_id or _new_id(),
            shortcut=shortcut,
            lang=lang,
            title=title.strip(),
            body=body.strip(),
            updated_by=by,
            updated_at=time.time(),
        )
        await self.redis.hset(CANNED, reply.id, json.dumps(asdict(reply), ensure_ascii=False))
        return reply

    async def delete(self, reply_id: str) -> bool:
        return reply_id != SEEDED and bool(await self.redis.hdel(CANNED, reply_id))


def _new_id() -> str:
    return "cr-" + secrets.token_hex(6)
