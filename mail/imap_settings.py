"""Where and how the support mailbox is read, from the environment (no extra file for a shop).

`IMAP_URL` = `imap://user:pass@host:143/INBOX`, `imaps://user:pass@host:993/INBOX` (implicit TLS)
or empty (e-mail reading disabled). User and password are URL-decoded (`support%40shop.example`),
the mailbox path defaults to INBOX. Like SMTP_URL: plain `imap://` upgrades with STARTTLS when the
server offers it, `?starttls=1` makes it mandatory, `?starttls=0` turns it off.
The tuning variables (`IMAP_IDLE`, `IMAP_IDLE_RENEW_S`, `IMAP_POLL_S`, `IMAP_MAX_ATTEMPTS`,
`IMAP_MAX_MESSAGE_MB`, `IMAP_LEASE_S`) rarely need setting. The password is never in a repr,
a log line or an error: `describe()` and `redact_url` show `***`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from kit.mail_urls import FALSE, TRUE, starttls_option
from kit.redis import redact_url

DEFAULT_PORTS = {"imap": 143, "imaps": 993}
MAX_IDLE_RENEW_S = 29 * 60          # RFC 2177: servers may drop an IDLE client after 30 minutes


class ImapConfigError(ValueError):
    """IMAP_URL or a tuning variable is invalid; the message names the variable (password hidden)."""


@dataclass(frozen=True)
class ImapSettings:
    host: str = ""                              # empty = e-mail reading disabled
    port: int = 0
    username: str = ""
    password: str = field(default="", repr=False)
    mailbox: str = "INBOX"
    use_tls: bool = False                       # imaps://: TLS from the first byte
    start_tls: bool | None = None               # None = upgrade if offered
    idle: bool = True                           # IMAP_IDLE=0: poll even when the server has IDLE
    idle_renew_s: float = 25 * 60               # IMAP_IDLE_RENEW_S: IDLE re-issued this often
    poll_interval_s: float = 60.0               # IMAP_POLL_S: without IDLE, or when it fails
    max_attempts: int = 3                       # IMAP_MAX_ATTEMPTS: callback failures before on_poison
    max_message_bytes: int = 40 * 1024 * 1024   # IMAP_MAX_MESSAGE_MB: larger mail goes to on_poison
    lease_s: float = 30.0                       # IMAP_LEASE_S: a dead reader's gateway is replaced within
    timeout_s: float = 30.0                     # one IMAP command (a body fetch: between two reads)
    backoff_s: float = 1.0                      # reconnects and callback retries: 1, 2, 4... s
    backoff_cap_s: float = 60.0

    @property
    def enabled(self) -> bool:
        return bool(self.host)

    @property
    def account(self) -> str:
        """`user@host/mailbox`: names the Redis cursor and lease (port and TLS may change)."""
        return f"{self.username}@{self.host}/{self.mailbox}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ImapSettings:
        """Settings from IMAP_URL and the IMAP_* tuning variables (default `os.environ`)."""
        env = os.environ if environ is None else environ

        def number(name: str, default: float, low: float, high: float) -> float:
            raw = (env.get(name) or "").strip()
            if not raw:
                return default
            try:
                value = float(raw)
            except ValueError:
                raise ImapConfigError(f"{name} must be a number, not {raw!r}") from None
            if not low <= value <= high:
                raise ImapConfigError(f"{name} must be between {low:g} and {high:g}, not {raw}")
            return value

        idle = (env.get("IMAP_IDLE") or "1").strip().lower()
        if idle not in TRUE + FALSE:
            raise ImapConfigError(f"IMAP_IDLE must be 1 or 0, not {idle!r}")
        return cls.from_url(
            (env.get("IMAP_URL") or "").strip(),
            idle=idle in TRUE,
            idle_renew_s=number("IMAP_IDLE_RENEW_S", 25 * 60, 10, MAX_IDLE_RENEW_S),
            poll_interval_s=number("IMAP_POLL_S", 60, 1, 3600),
            max_attempts=int(number("IMAP_MAX_ATTEMPTS", 3, 1, 100)),
            max_message_bytes=int(number("IMAP_MAX_MESSAGE_MB", 40, 0.001, 1024) * 1024 * 1024),
            lease_s=number("IMAP_LEASE_S", 30, 2, 600),
        )

    @classmethod
    def from_url(cls, url: str, **tuning: object) -> ImapSettings:
        """Parse an IMAP URL (see the module docstring); an empty URL gives disabled settings."""
        if not url:
            return cls(**tuning)  # type: ignore[arg-type]
        shown = _redacted(url)
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:   # its message may quote part of a password with an unescaped / or #
            raise ImapConfigError(f"IMAP_URL {shown!r} is not a valid URL (URL-encode the user's and "
                                  f"the password's special characters: / # ? @ :)") from None
        if parts.scheme not in DEFAULT_PORTS:
            raise ImapConfigError(f"IMAP_URL must start with imap:// or imaps://, not {shown!r}")
        if not parts.hostname:
            raise ImapConfigError(f"IMAP_URL {shown!r} has no host, e.g. imaps://user:pass@mail.example.com/INBOX")
        if not parts.username or parts.password is None:
            raise ImapConfigError(f"IMAP_URL {shown!r} needs a user and a password: "
                                  f"imaps://user:pass@host/INBOX (URL-encode @ and : in them)")
        start_tls = starttls_option("IMAP_URL", shown, parts.scheme, "imaps", parts.query, ImapConfigError)
        use_tls = parts.scheme == "imaps"
        mailbox = unquote(parts.path.strip("/")) or "INBOX"
        if not mailbox.isascii() or any(ord(c) < 32 or c == "\x7f" for c in mailbox):
            # non-ASCII names need modified UTF-7 (RFC 3501 5.1.3): not supported, say so
            raise ImapConfigError(f"IMAP_URL {shown!r}: the mailbox name must be printable ASCII")
        return cls(
            host=parts.hostname,
            port=port or DEFAULT_PORTS[parts.scheme],
            username=unquote(parts.username),
            password=unquote(parts.password),
            mailbox=mailbox,
            use_tls=use_tls,
            start_tls=False if use_tls else start_tls,
            **tuning,  # type: ignore[arg-type]
        )

    def describe(self) -> str:
        """The mailbox, safe to log: `imaps://user:***@host:port/INBOX`."""
        if not self.enabled:
            return "e-mail reading disabled (IMAP_URL is empty)"
        tls = "?starttls=1" if self.start_tls else ("?starttls=0" if self.start_tls is False
                                                    and not self.use_tls else "")
        return f"{'imaps' if self.use_tls else 'imap'}://{self.username}:***@{self.host}:{self.port}/" \
               f"{self.mailbox}{tls}"

    def scrub(self, text: str) -> str:
        """`text` (a server's or a library's error) with the password replaced by ***."""
        return _hide(text, self.password)


def _redacted(url: str) -> str:
    """redact_url, also for a URL that does not parse: a password with an unescaped / or # would
    otherwise end the netloc early and be shown as part of the path."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, after = rest.rpartition("@")
    if not sep or not at or ":" not in userinfo:
        return redact_url(url)
    return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{after}"


def _hide(text: str, secret: str) -> str:
    if not secret:
        return text
    escaped = secret.replace("\\", "\\\\").replace('"', '\\"')   # as sent in a quoted LOGIN argument
    return text.replace(escaped, "***").replace(secret, "***")
