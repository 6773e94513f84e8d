"""Gateway settings, read once from the environment.

Every value is validated up front and all problems are reported together, so a
typo in a deployment shows up as one clear start-up error instead of a
confusing failure on the first request.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from kit.pii import DEFAULT_ANALYTICS_SECRET
from kit.redis import DEFAULT_REDIS_URL, redact_url

MAX_BODY_BYTES = 64 * 1024
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
REDIS_SCHEMES = ("redis", "rediss", "unix")


class SettingsError(ValueError):
    """One or more environment variables are invalid; the message names each of them."""


@dataclass(frozen=True)
class Settings:
    redis_url: str = DEFAULT_REDIS_URL
    kb_dir: Path = Path("kb_content")
    index_dir: Path = Path("var/index")
    port: int = 8000
    widget_origins: tuple[str, ...] = ()
    log_level: str = "INFO"
    max_body_bytes: int = MAX_BODY_BYTES
    redis_ping_timeout: float = 1.0
    action_token: str = ""                  # shared with Rasa's action_endpoint; empty = /webhook off
    shop_config: Path = Path("config/shop.yml")
    orders_file: Path = Path("config/demo_orders.yml")
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_token: str = ""                    # Rasa's API token (resume after an agent) and channel secret
    metrics_token: str = ""                 # METRICS_TOKEN: /metrics and /readyz details; empty = refused
    chat_rate: tuple[int, int] = (20, 60)   # per shopper: at most N messages per S seconds
    # budgets per client address (shoppers behind one address share them) and per conversation
    chat_address_rate: tuple[int, int] = (60, 60)       # CHAT_ADDRESS_RATE_LIMIT: messages, all conversations
    conversation_rate: tuple[int, int] = (10, 600)      # CONVERSATION_RATE_LIMIT: new conversations
    ticket_rate: tuple[int, int] = (3, 3600)            # TICKET_RATE_LIMIT: tickets per conversation
    ticket_address_rate: tuple[int, int] = (10, 3600)   # TICKET_ADDRESS_RATE_LIMIT: tickets per address
    clock_start: datetime | None = None     # CLOCK_START: the gateway's clock starts there (demos, tests)
    analytics_secret: str = DEFAULT_ANALYTICS_SECRET  # ANALYTICS_SECRET: keys the customers' pseudonyms
    survey_secret: str = ""                 # SURVEY_SECRET: signs survey links and help feedback forms
    public_url: str = ""                    # PUBLIC_URL: the gateway as customers see it (survey links)
    attachments_dir: Path = Path("var/attachments")   # ATTACHMENTS_DIR: the files shoppers send
    attachment_max_bytes: int = 5 * 1024 * 1024      # ATTACHMENT_MAX_BYTES: one file
    attachment_max_count: int = 10                    # ATTACHMENT_MAX_COUNT: files per conversation
    attachment_max_total: int = 25 * 1024 * 1024     # ATTACHMENT_MAX_TOTAL_BYTES: bytes per conversation
    kb_versions_dir: Path = Path("var/kb-versions")  # KB_VERSIONS_DIR: the studio's history outside git

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from `environ` (default `os.environ`); empty variables mean "use the default"."""
        env = os.environ if environ is None else environ
        problems: list[str] = []

        def get(name: str, default: str) -> str:
            return (env.get(name) or "").strip() or default

        redis_url = get("REDIS_URL", DEFAULT_REDIS_URL)
        if problem := _check_redis_url(redis_url):
            problems.append(problem)
        port = _parse_port(get("GATEWAY_PORT", "8000"), problems)
        origins = _parse_origins(get("WIDGET_ORIGINS", ""), problems)
        log_level = get("LOG_LEVEL", "INFO").upper()
        if log_level not in LOG_LEVELS:
            problems.append(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {log_level!r}")
        chat_rate = _parse_rate(get("CHAT_RATE_LIMIT", "20/60"), problems)
        rates = {name: _parse_rate(get(name, default), problems, name=name, unit=unit)
                 for name, default, unit in RATE_LIMITS}
        clock_start = _parse_clock(get("CLOCK_START", ""), problems)
        files = {name: _parse_count(get(name, str(default)), problems, name=name, low=low, high=high)
                 for name, default, low, high in ATTACHMENT_LIMITS}
        problems += missing_secrets(env)
        if problems:
            raise SettingsError("invalid gateway settings: " + "; ".join(problems))
        return cls(
            redis_url=redis_url,
            kb_dir=Path(get("KB_DIR", "kb_content")),
            index_dir=Path(get("INDEX_DIR", "var/index")),
            port=port,
            widget_origins=origins,
            log_level=log_level,
            action_token=get("ACTION_TOKEN", ""),
            shop_config=Path(get("SHOP_CONFIG", "config/shop.yml")),
            orders_file=Path(get("ORDERS_FILE", "config/demo_orders.yml")),
            rasa_url=get("RASA_URL", "http://127.0.0.1:5005"),
            rasa_token=get("RASA_TOKEN", ""),
            metrics_token=get("METRICS_TOKEN", ""),
            chat_rate=chat_rate,
            chat_address_rate=rates["CHAT_ADDRESS_RATE_LIMIT"],
            conversation_rate=rates["CONVERSATION_RATE_LIMIT"],
            ticket_rate=rates["TICKET_RATE_LIMIT"],
            ticket_address_rate=rates["TICKET_ADDRESS_RATE_LIMIT"],
            clock_start=clock_start,
            analytics_secret=get("ANALYTICS_SECRET", DEFAULT_ANALYTICS_SECRET),
            survey_secret=get("SURVEY_SECRET", ""),
            public_url=get("PUBLIC_URL", ""),
            attachments_dir=Path(get("ATTACHMENTS_DIR", "var/attachments")),
            attachment_max_bytes=files["ATTACHMENT_MAX_BYTES"],
            attachment_max_count=files["ATTACHMENT_MAX_COUNT"],
            attachment_max_total=files["ATTACHMENT_MAX_TOTAL_BYTES"],
            kb_versions_dir=Path(get("KB_VERSIONS_DIR", "var/kb-versions")),
        )


PRODUCTION_SECRETS = ("ACTION_TOKEN", "RASA_TOKEN", "ANALYTICS_SECRET", "SURVEY_SECRET")
# a channel or feature half-configured: the variables that must come together
TOGETHER = {
    "Messenger": ("META_APP_SECRET", "MESSENGER_VERIFY_TOKEN", "MESSENGER_PAGE_TOKEN"),
    "WhatsApp": ("META_APP_SECRET", "WHATSAPP_VERIFY_TOKEN", "WHATSAPP_TOKEN", "WHATSAPP_PHONE_NUMBER_ID"),
    "ticket e-mail": ("SMTP_URL", "SMTP_FROM"),
}
CHANNEL_TRIGGERS = {"Messenger": ("MESSENGER_VERIFY_TOKEN", "MESSENGER_PAGE_TOKEN"),
                    "WhatsApp": ("WHATSAPP_VERIFY_TOKEN", "WHATSAPP_TOKEN", "WHATSAPP_PHONE_NUMBER_ID"),
                    "ticket e-mail": ("SMTP_URL", "SMTP_FROM")}


def missing_secrets(env: Mapping[str, str]) -> list[str]:
    """Startup problems naming each missing secret: all of PRODUCTION_SECRETS when
    SUPPORT_ENV=production (a development run makes random ones), and the partners of any
    half-configured channel, whatever the environment."""
    def has(name: str) -> bool:
        return bool((env.get(name) or "").strip())

    problems = []
    if (env.get("SUPPORT_ENV") or "").strip().lower() == "production":
        missing = [name for name in PRODUCTION_SECRETS if not has(name)]
        if missing:
            problems.append(f"missing secret(s) for SUPPORT_ENV=production: {', '.join(missing)} "
                            "(set them in the environment; never in a file of the repository)")
    for feature, names in TOGETHER.items():
        if any(has(n) for n in CHANNEL_TRIGGERS[feature]):
            missing = [n for n in names if not has(n)]
            if missing:
                problems.append(f"{feature} is partly configured: missing {', '.join(missing)}")
    return problems




def _check_redis_url(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        return f"REDIS_URL {redact_url(url)!r} is not a valid URL ({exc})"
    if parts.scheme not in REDIS_SCHEMES:
        return (
            f"REDIS_URL must start with redis://, rediss:// or unix://, "
            f"e.g. {DEFAULT_REDIS_URL}, not {redact_url(url)!r}"
        )
    if parts.scheme != "unix" and not parts.hostname:
        return f"REDIS_URL {redact_url(url)!r} has no host, e.g. {DEFAULT_REDIS_URL}"
    return None


def _parse_port(raw: str, problems: list[str]) -> int:
    try:
        port = int(raw)
    except ValueError:
        problems.append(f"GATEWAY_PORT must be a port number, not {raw!r}")
        return 0
    if not 1 <= port <= 65535:
        problems.append(f"GATEWAY_PORT must be between 1 and 65535, not {port}")
    return port


def _parse_origins(raw: str, problems: list[str]) -> tuple[str, ...]:
    """`https://shop.example, http://localhost:3000` -> normalised origins (no wildcard)."""
    origins: list[str] = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        if item == "*":
            problems.append("WIDGET_ORIGINS must list the shop's origins explicitly; '*' is not allowed")
            continue
        try:
            parts = urlsplit(item.rstrip("/"))
            port = parts.port
        except ValueError:
            parts, port = None, None
        if (
            parts is None
            or parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.path
            or parts.query
            or parts.fragment
            or parts.username is not None
        ):
            problems.append(
                f"WIDGET_ORIGINS entry {item!r} is not an origin like https://shop.example "
                "(scheme and host, optional port, no path)"
            )
            continue
        host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        origins.append(f"{parts.scheme}://{host}" + (f":{port}" if port else ""))
    return tuple(dict.fromkeys(origins))


# the other flood limits, all "count/seconds": (variable, default, what is counted)
RATE_LIMITS = (
    ("CHAT_ADDRESS_RATE_LIMIT", "60/60", "messages"),
    ("CONVERSATION_RATE_LIMIT", "10/600", "conversations"),
    ("TICKET_RATE_LIMIT", "3/3600", "tickets"),
    ("TICKET_ADDRESS_RATE_LIMIT", "10/3600", "tickets"),
)


# the attachments' limits: (variable, default, lowest, highest accepted)
ATTACHMENT_LIMITS = (
    ("ATTACHMENT_MAX_BYTES", 5 * 1024 * 1024, 1024, 50 * 1024 * 1024),
    ("ATTACHMENT_MAX_COUNT", 10, 0, 100),
    ("ATTACHMENT_MAX_TOTAL_BYTES", 25 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
)


def _parse_count(raw: str, problems: list[str], *, name: str, low: int, high: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        problems.append(f"{name} must be a whole number from {low} to {high}, not {raw!r}")
        return low
    return value


def _parse_rate(raw: str, problems: list[str], *, name: str = "CHAT_RATE_LIMIT",
                unit: str = "messages") -> tuple[int, int]:
    count, _, window = raw.partition("/")
    try:
        rate = int(count), int(window)
    except ValueError:
        rate = (0, 0)
    if rate[0] < 1 or rate[1] < 1:
        problems.append(f"{name} must look like 20/60 ({unit}/seconds), not {raw!r}")
        return (1, 1)
    return rate


def _parse_clock(raw: str, problems: list[str]) -> datetime | None:
    if not raw:
        return None
    try:
        start = datetime.fromisoformat(raw)
    except ValueError:
        start = None
    if start is None or start.tzinfo is None:
        problems.append(f"CLOCK_START must be an ISO time with its UTC offset, not {raw!r}")
        return None
    return start
