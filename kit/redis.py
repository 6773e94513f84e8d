"""Redis conventions every package shares: the default URL, decoding replies, URLs safe to print."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def decoded(raw: dict) -> dict[str, str] | None:
    """A Redis hash as str -> str, whether the client decodes responses or not."""
    if not raw:
        return None
    return {text(k): text(v) for k, v in raw.items()}


def redact_url(url: str) -> str:
    """The URL with any password replaced by ***, safe for logs, errors and the terminal."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        port = parts.port
    except ValueError:
        return "<unparsable URL>"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{parts.username or ''}:***@{host}" + (f":{port}" if port else "")
    return urlunsplit(parts._replace(netloc=netloc))
