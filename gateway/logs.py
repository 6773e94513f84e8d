"""Structured logging: one JSON object per line on stderr.

Log shippers parse JSON lines without regexes. Shoppers' messages are personal
data, so callers log their length and language, never their text, and
uvicorn's access log (which prints query strings, i.e. the shopper's question)
is replaced by our own request log.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TextIO

from kit.pii import mask_pii

# Set per request by the request-log middleware; added to every record logged during that request.
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message", "asctime",
    "color_message",  # uvicorn's copy of msg with ANSI colours
}  # fmt: skip


class JsonFormatter(logging.Formatter):
    """`{"ts", "level", "logger", "msg", "request_id"?, **extra}`; extras come from `extra={...}`."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = request_id.get()
        if rid is not None:
            data["request_id"] = rid
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        # defence in depth: an e-mail, phone or card number that slipped into a message, an
        # extra or a traceback (an exception quoting its input) never reaches the log file
        return mask_pii(json.dumps(data, default=str, ensure_ascii=False))


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to the *current* sys.stderr (test runners swap it), like logging.lastResort."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def configure_logging(level: str = "INFO") -> None:
    """Route the root logger, uvicorn's and Python warnings to JSON on stderr (idempotent)."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, _StderrHandler)), None)
    if handler is None:
        handler = _StderrHandler()
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    handler.setLevel(level)  # also filters libraries that force their own logger to DEBUG (bm25s)
    root.setLevel(level)
    uvicorn = logging.getLogger("uvicorn")
    uvicorn.handlers.clear()
    uvicorn.propagate = True
    access = logging.getLogger("uvicorn.access")  # logs full URLs, i.e. the shopper's question
    access.handlers.clear()
    access.propagate = False
    access.disabled = True
    for name in ("httpx", "httpx2", "httpcore"):  # outbound URLs may carry tokens (Graph API)
        logging.getLogger(name).setLevel(logging.WARNING)
    # start-up chatter a shop owner cannot act on: which faiss build loaded (its "could not
    # load AVX512" lines read like errors), each custom action registered
    for name in ("faiss.loader", "rasa_sdk.executor"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.captureWarnings(True)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # tqdm bars are not JSON lines
