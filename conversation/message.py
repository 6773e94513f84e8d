"""The one message model every channel is normalised to, in and out.

A message is what the transcript stores and what the router passes around: the channel
adapters translate webhooks into it and it back into each platform's send format.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

MAX_TEXT_CHARS = 2000
MAX_HISTORY_AFTER = 1_000_000_000   # beyond any transcript; keeps Redis list ranges within int64

_LINE_BREAKS = re.compile("\r\n?|[\x85\u2028\u2029]")
# What people never mean to type but attackers do: C0/C1 controls (tab and newline kept), bidi
# embeddings, overrides, isolates and marks (text that displays in another order than it reads,
# "Trojan Source"), zero-width and other invisible format characters, and lone surrogates (not
# storable as UTF-8). ZWJ/ZWNJ stay: emoji sequences and some scripts need them.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064"
    "\u2066-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Text as people meant it: line breaks as \\n, no control, bidi or invisible characters.
    Applied to every message (Message itself), ticket fields and agent replies."""
    return _INVISIBLE.sub("", _LINE_BREAKS.sub("\n", text))


@dataclass(frozen=True)
class Button:
    title: str
    payload: str          # what comes back when clicked ("/affirm", "/faq_choice{...}", or text)


@dataclass(frozen=True)
class FileInfo:
    """A file the shopper sent, as messages carry it: its id (the file itself is served by the
    gateway to the conversation's shopper and to agents), cleaned name, sniffed type, size."""

    id: str
    name: str
    type: str
    size: int
    width: int = 0
    height: int = 0

    @classmethod
    def from_dict(cls, data: Any) -> FileInfo | None:
        """None for anything that is not a stored file's description (never trusted blindly)."""
        if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"]:
            return None
        try:
            return cls(id=data["id"], name=str(data.get("name") or ""), type=str(data.get("type") or ""),
                       size=int(data.get("size") or 0), width=int(data.get("width") or 0),
                       height=int(data.get("height") or 0))
        except (TypeError, ValueError):
            return None


@dataclass(frozen=True)
class Message:
    channel: str                      # web | messenger | whatsapp
    sender: str                       # the shopper's id on that channel (PSID, wa_id, web visitor id)
    conversation_id: str              # ours: stable per (channel, sender) until closed
    text: str = ""
    role: str = "shopper"             # shopper | bot | agent | system
    buttons: tuple[Button, ...] = ()
    attachments: tuple[str, ...] = () # links (outbound); inbound Meta media before they are fetched
    files: tuple[FileInfo, ...] = ()  # files the shopper sent, stored by handoff/attachments.py
    lang: str = ""                    # fr | en | "" when unknown
    message_id: str = field(default_factory=lambda: uuid.uuid4().hex)  # the platform's id when it has one
    timestamp: float = field(default_factory=time.time)
    author: str = ""                  # agent id for role=agent, event name for role=system

    def __post_init__(self) -> None:
        # the one place every channel's text passes (in and out, stored and re-read)
        if self.text and isinstance(self.text, str):
            object.__setattr__(self, "text", clean_text(self.text))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["buttons"] = [asdict(b) for b in self.buttons]
        data["attachments"] = list(self.attachments)
        data["files"] = [asdict(f) for f in self.files]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Message:
        return cls(
            channel=str(data["channel"]), sender=str(data["sender"]),
            conversation_id=str(data["conversation_id"]), text=str(data.get("text") or ""),
            role=str(data.get("role") or "shopper"),
            buttons=tuple(Button(str(b["title"]), str(b["payload"])) for b in data.get("buttons") or ()),
            attachments=tuple(str(a) for a in data.get("attachments") or ()),
            files=tuple(f for f in map(FileInfo.from_dict, data.get("files") or ()) if f is not None),
            lang=str(data.get("lang") or ""), message_id=str(data.get("message_id") or uuid.uuid4().hex),
            timestamp=float(data.get("timestamp") or time.time()), author=str(data.get("author") or ""),
        )  # fmt: skip
