"""What Messenger and WhatsApp share: Meta app settings, webhook signatures, the GET handshake,
`appsecret_proof`, and the defensive JSON helpers both webhook parsers use.

Both platforms sign every webhook POST with the app secret (`X-Hub-Signature-256`), so a
channel without an app secret is disabled rather than left accepting unsigned posts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from kit import texts

DEFAULT_GRAPH_API_BASE = "https://graph.facebook.com"
DEFAULT_GRAPH_API_VERSION = "v25.0"
SIGNATURE_HEADER = "X-Hub-Signature-256"
MAX_WEBHOOK_BYTES = 256 * 1024
WINDOW_SECONDS = 24 * 3600  # Meta's customer-service window after the shopper's last message


@dataclass(frozen=True)
class MetaSettings:
    """Meta app credentials; secrets are kept out of the repr so settings can be logged."""

    app_secret: str = field(default="", repr=False)
    messenger_verify_token: str = field(default="", repr=False)
    messenger_page_token: str = field(default="", repr=False)
    whatsapp_verify_token: str = field(default="", repr=False)
    whatsapp_token: str = field(default="", repr=False)
    whatsapp_phone_number_id: str = ""
    graph_api_base: str = DEFAULT_GRAPH_API_BASE
    graph_api_version: str = DEFAULT_GRAPH_API_VERSION

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MetaSettings:
        """Settings from `environ` (default `os.environ`); empty variables mean "not configured"."""
        env = os.environ if environ is None else environ

        def get(name: str, default: str = "") -> str:
            return (env.get(name) or "").strip() or default

        version = get("GRAPH_API_VERSION", DEFAULT_GRAPH_API_VERSION)
        if not version.startswith("v"):
            version = "v" + version  # "21.0" -> "v21.0"
        return cls(
            app_secret=get("META_APP_SECRET"),
            messenger_verify_token=get("MESSENGER_VERIFY_TOKEN"),
            messenger_page_token=get("MESSENGER_PAGE_TOKEN"),
            whatsapp_verify_token=get("WHATSAPP_VERIFY_TOKEN"),
            whatsapp_token=get("WHATSAPP_TOKEN"),
            whatsapp_phone_number_id=get("WHATSAPP_PHONE_NUMBER_ID"),
            graph_api_base=get("GRAPH_API_BASE", DEFAULT_GRAPH_API_BASE).rstrip("/"),
            graph_api_version=version,
        )

    def missing(self, channel: str) -> list[str]:
        """The environment variables still needed to enable `channel` ("messenger" | "whatsapp")."""
        if channel == "messenger":
            required = {
                "META_APP_SECRET": self.app_secret, "MESSENGER_VERIFY_TOKEN": self.messenger_verify_token,
                "MESSENGER_PAGE_TOKEN": self.messenger_page_token,
            }  # fmt: skip
        elif channel == "whatsapp":
            required = {
                "META_APP_SECRET": self.app_secret, "WHATSAPP_VERIFY_TOKEN": self.whatsapp_verify_token,
                "WHATSAPP_TOKEN": self.whatsapp_token,
                "WHATSAPP_PHONE_NUMBER_ID": self.whatsapp_phone_number_id,
            }  # fmt: skip
        else:
            raise ValueError(f"not a Meta channel: {channel!r}")
        return [name for name, value in required.items() if not value]

    @property
    def messenger_enabled(self) -> bool:
        return not self.missing("messenger")

    @property
    def whatsapp_enabled(self) -> bool:
        return not self.missing("whatsapp")


def verify_signature(body: bytes, header: str | None, app_secret: str) -> bool:
    """True when `header` is `sha256=<hex HMAC-SHA256 of body keyed by app_secret>`.

    An empty secret never verifies: a misconfigured channel must not accept unsigned posts.
    """
    if not app_secret or not header:
        return False
    scheme, _, received = header.strip().partition("=")
    if scheme.lower() != "sha256" or not received:
        return False
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), received.strip().lower().encode("utf-8", "replace"))


def verify_subscription(params: Mapping[str, str], expected_token: str) -> str | None:
    """The `hub.challenge` to echo when the GET handshake is valid, else None."""
    if not expected_token or params.get("hub.mode") != "subscribe":
        return None
    token = params.get("hub.verify_token") or ""
    if not hmac.compare_digest(token.encode("utf-8", "replace"), expected_token.encode("utf-8", "replace")):
        return None
    return params.get("hub.challenge") or None


def appsecret_proof(token: str, app_secret: str) -> str:
    """HMAC-SHA256 hex of the access token keyed by the app secret: proves a call comes from the
    app's server, so a leaked token alone is useless when the app requires the proof."""
    return hmac.new(app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()


def within_window(last_inbound_at: float | None, now: float | None = None) -> bool:
    """Whether the 24-hour customer-service window opened by the shopper's last message is open."""
    if last_inbound_at is None:
        return False
    now = time.time() if now is None else now
    return now - last_inbound_at <= WINDOW_SECONDS


# -- webhook reading ----------------------------------------------------------------------------


class WebhookRejected(Exception):
    """The webhook cannot be processed; `status` and `message` become the error response."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def read_limited_body(request: Request, limit: int = MAX_WEBHOOK_BYTES) -> bytes:
    """The raw body (needed byte-exact for the signature), refused with 413 past `limit` bytes:
    up front when Content-Length says so, otherwise as soon as the stream goes over."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise WebhookRejected(400, "Invalid Content-Length header.")
        if int(declared) > limit:
            raise WebhookRejected(413, f"Request body too large: the limit is {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise WebhookRejected(413, f"Request body too large: the limit is {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(body: bytes) -> Any:
    """Strict JSON (no NaN/Infinity); 422 on anything else, including absurd nesting."""
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise WebhookRejected(422, "The body is not valid JSON.") from exc


def as_dict(value: Any) -> dict[str, Any]:
    """`value` if it is a JSON object, else an empty one: webhook fields are never trusted."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str:
    """Strings as-is, numbers (ids are sometimes sent as numbers) as text, anything else as ""."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return ""


def as_timestamp(value: Any, *, millis: bool = False) -> float:
    """Epoch seconds from a Meta timestamp (ms for Messenger, seconds as a string for WhatsApp);
    now when missing or absurd, so a bad field never loses the message."""
    number: float | None = None
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    if numeric or (isinstance(value, str) and re.fullmatch(r"\d{1,16}(\.\d{1,6})?", value.strip())):
        number = float(value)
    if number is None or not math.isfinite(number):
        return time.time()
    seconds = number / 1000 if millis else number
    return seconds if 0 < seconds < 1e11 else time.time()


# -- outbound text ------------------------------------------------------------------------------


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, with an ellipsis when cut (button titles)."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)].rstrip() + "\u2026"


def split_text(text: str, limit: int) -> list[str]:
    """`text` in chunks of at most `limit` characters, cut at paragraph, line or word boundaries
    when possible, so a long answer arrives as several readable messages rather than truncated."""
    text = text.strip()
    chunks: list[str] = []
    while len(text) > limit:
        window = text[: limit + 1]
        cut = -1
        for sep in ("\n\n", "\n", " "):
            cut = window.rfind(sep, 0, limit + 1)
            if cut > limit // 2:
                break
        if cut <= limit // 2:
            cut = limit
        chunks.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        chunks.append(text)
    return chunks


def outbound_text(text: str, attachments: tuple[str, ...]) -> str:
    """The text to send with attachment links appended (we only ever hold links, not files)."""
    parts = [text.strip()] if text.strip() else []
    parts.extend(a for a in attachments if a)
    return "\n".join(parts)


def choose_prompt(lang: str) -> str:
    """Body text for a button-only message: both platforms require non-empty text with buttons."""
    return texts.text(lang, "channels.choose")


def disabled_message(channel_title: str, missing: list[str]) -> str:
    return f"{channel_title} is disabled: set {', '.join(missing)} to enable it."


TITLES = {"messenger": "Messenger", "whatsapp": "WhatsApp"}


def channel_settings(meta: Any, channel: str) -> MetaSettings:
    """The app's MetaSettings when `channel` is fully configured; 503 (WebhookRejected) otherwise,
    so a half-configured channel never accepts posts it cannot authenticate or answer."""
    if not isinstance(meta, MetaSettings):
        raise WebhookRejected(503, f"{TITLES[channel]} is disabled: Meta settings are not loaded.")
    if missing := meta.missing(channel):
        raise WebhookRejected(503, disabled_message(TITLES[channel], missing))
    return meta


async def read_signed_json(request: Request, app_secret: str) -> Any:
    """The webhook's JSON, after the size limit (413) and the signature (403) are checked: nothing
    of an unsigned body is parsed. Invalid JSON -> 422."""
    body = await read_limited_body(request)
    if not verify_signature(body, request.headers.get(SIGNATURE_HEADER), app_secret):
        raise WebhookRejected(403, f"Missing or invalid {SIGNATURE_HEADER} signature.")
    return parse_json(body)


def handshake(request: Request, meta: Any, channel: str) -> tuple[int, str]:
    """Meta's subscription check for `channel`: (200, challenge) only with our verify token,
    else (status, reason)."""
    try:
        settings = channel_settings(meta, channel)
    except WebhookRejected as exc:
        return exc.status, exc.message
    token = settings.messenger_verify_token if channel == "messenger" else settings.whatsapp_verify_token
    challenge = verify_subscription(request.query_params, token)
    if challenge is None:
        return 403, "Subscription verification failed: wrong hub.mode or hub.verify_token."
    return 200, challenge


REPLAY_WINDOW_S = 6 * 86400   # < the 7-day message-id dedupe: an old signed body replayed is refused
CLOCK_SKEW_S = 300


def fresh(messages: list[Any], now: float | None = None) -> list[Any]:
    """The messages inside the replay window. A signed body captured and replayed later cannot
    inject anything: within the window the message ids dedupe it, beyond it it is dropped."""
    now = time.time() if now is None else now
    kept = [m for m in messages if now - REPLAY_WINDOW_S <= m.timestamp <= now + CLOCK_SKEW_S]
    if len(kept) < len(messages):
        logging.getLogger("gateway.webhooks").warning(
            "webhook events outside the replay window dropped", extra={"dropped": len(messages) - len(kept)})
    return kept


async def signed_webhook(request: Request, meta: Any, inbox: Any, channel: str) -> tuple[MetaSettings, Any]:
    """The settings and verified JSON payload of a webhook POST; WebhookRejected (503 when the
    channel or the inbox is not ready, 413/403/422 for the body) otherwise."""
    settings = channel_settings(meta, channel)
    if inbox is None:
        raise WebhookRejected(503, "The inbox is not ready; Meta will retry.")
    return settings, await read_signed_json(request, settings.app_secret)
