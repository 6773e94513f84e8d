"""Loading the scripted conversations (docs/dialogues.md), with errors that name the file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent / "conversations"
SITUATIONS = ("closed", "busy", "agent")
SLOTS = ("order_number", "order_proof", "ticket_email", "ticket_order", "ticket_message")
SMALL_TALK = ("greet", "goodbye", "thanks", "bot", "glad")
ORDER_OUTCOMES = ("found", "unknown", "limited")
KEYS = {"faq", "suggest", "small_talk", "no_answer", "ask", "way_out", "cancelled", "handoff", "ticket",
        "order", "late", "lang", "says", "refused", "any"}


class ScriptError(ValueError):
    """A scripted conversation that cannot be run, with its file and conversation id."""


@dataclass(frozen=True)
class Turn:
    say: str
    expect: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Dialogue:
    id: str
    turns: tuple[Turn, ...]
    situation: str = "closed"
    tags: tuple[str, ...] = ()
    fast: bool = False
    source: str = ""

    @property
    def lang(self) -> str:
        return self.id.split("-", 1)[0]


def _ids(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def check_expect(expect: Any, where: str, entries: set[str] | None) -> None:
    if not isinstance(expect, dict):
        raise ScriptError(f"{where}: `expect` must be a mapping, not {type(expect).__name__}")
    unknown = set(expect) - KEYS
    if unknown:
        raise ScriptError(f"{where}: unknown expectation(s) {sorted(unknown)}; known: {sorted(KEYS)}")
    for key in ("faq", "suggest"):
        for entry in _ids(expect.get(key)):
            if entries is not None and entry not in entries:
                raise ScriptError(f"{where}: `{key}: {entry}` is not an FAQ entry id")
    if "ask" in expect and expect["ask"] not in SLOTS:
        raise ScriptError(f"{where}: `ask: {expect['ask']}` is not one of {SLOTS}")
    if "small_talk" in expect and expect["small_talk"] not in SMALL_TALK:
        raise ScriptError(f"{where}: `small_talk: {expect['small_talk']}` is not one of {SMALL_TALK}")
    if "order" in expect and expect["order"] not in ORDER_OUTCOMES:
        raise ScriptError(f"{where}: `order: {expect['order']}` is not one of {ORDER_OUTCOMES}")
    for alternative in expect.get("any") or ():
        check_expect(alternative, f"{where} (any)", entries)


def load(paths: list[Path] | None = None, entries: set[str] | None = None) -> list[Dialogue]:
    """Every conversation of these files (default: all of bench/dialogues/conversations/)."""
    dialogues: list[Dialogue] = []
    seen: dict[str, str] = {}
    for path in paths or sorted(HERE.glob("*.yml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ScriptError(f"{path.name}: not valid YAML: {exc}") from exc
        for raw in data.get("conversations") or ():
            cid = str(raw.get("id") or "")
            where = f"{path.name}: {cid or '(conversation without id)'}"
            if not cid or cid.split("-", 1)[0] not in ("fr", "en"):
                raise ScriptError(f"{where}: the id must start with fr- or en-")
            if cid in seen:
                raise ScriptError(f"{where}: id already used in {seen[cid]}")
            seen[cid] = path.name
            situation = raw.get("situation", "closed")
            if situation not in SITUATIONS:
                raise ScriptError(f"{where}: situation {situation!r} is not one of {SITUATIONS}")
            turns = []
            for n, turn in enumerate(raw.get("turns") or (), 1):
                if not isinstance(turn, dict) or not isinstance(turn.get("say"), str):
                    raise ScriptError(f"{where}, turn {n}: each turn needs `say: text`")
                expect = turn.get("expect") or {}
                check_expect(expect, f"{where}, turn {n}", entries)
                turns.append(Turn(turn["say"], expect))
            if not turns:
                raise ScriptError(f"{where}: no turns")
            dialogues.append(Dialogue(cid, tuple(turns), situation, tuple(raw.get("tags") or ()),
                                      bool(raw.get("fast")), path.name))
    return dialogues
