"""Outbound e-mail for ticket replies (SMTP via aiosmtplib).

Configured by two variables so a shop needs no extra file:
`SMTP_URL` = `smtp://user:pass@host:587?starttls=1`, `smtps://user:pass@host:465`
(implicit TLS) or empty (e-mail disabled: `send` raises `MailDisabled`, so the caller can
tell the agent instead of silently dropping the reply); `SMTP_FROM` = the sender
(`support@localhost` by default, `Shop Support <support@shop.example>` works too).
Plain `smtp://` without `starttls` upgrades to TLS when the server offers it; `?starttls=0`
turns that off (a server with a broken certificate), `?starttls=1` makes it mandatory.
The SMTP password is never logged nor shown in errors or reprs.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email import policy as email_policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from urllib.parse import unquote, urlsplit

import aiosmtplib
from email_validator import EmailNotValidError, validate_email

from kit.mail_urls import starttls_option
from kit.redis import redact_url

# How a message is written on the wire: SMTP's CRLF, and lines folded only past RFC 5322's hard
# limit (998). At the 78 of policy.SMTP, a Message-ID longer than a line (ours are about 90
# characters, Gmail's often more) comes out of In-Reply-To / References as RFC 2047 encoded
# words, which mail clients do not decode there: the thread breaks (tests/handoff/test_mailer.py).
WIRE = email_policy.SMTP.clone(max_line_length=998)
log = logging.getLogger(__name__)

DEFAULT_FROM = "support@localhost"
DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
STARTTLS_PORT = 587
MAX_SUBJECT_LEN = 250
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")   # CR, LF, NUL...: never inside a header
_HINT_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MSGID = re.compile(r"<[^<>\s]{1,250}@[^<>\s]{1,250}>")
MAX_REFERENCES = 20                    # the newest ones: a long thread's header stays readable


class MailConfigError(ValueError):
    """SMTP_URL or SMTP_FROM is invalid; the message names the variable (password hidden)."""


class MailDisabled(RuntimeError):
    """E-mail is off because SMTP_URL is empty."""


class MailError(RuntimeError):
    """The SMTP server could not be reached or refused the message."""


@dataclass(frozen=True)
class MailSettings:
    host: str = ""                                   # empty = e-mail disabled
    port: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    use_tls: bool = False                            # smtps://: TLS from the first byte
    start_tls: bool | None = None                    # None = upgrade if offered
    sender: str = DEFAULT_FROM                       # the From header, may include a display name
    timeout_s: float = 30.0

    @property
    def enabled(self) -> bool:
        return bool(self.host)

    @property
    def sender_address(self) -> str:
        return parseaddr(self.sender)[1]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MailSettings:
        """Settings from SMTP_URL and SMTP_FROM (default `os.environ`); MailConfigError if invalid."""
        env = os.environ if environ is None else environ
        sender = (env.get("SMTP_FROM") or "").strip() or DEFAULT_FROM
        return cls.from_url((env.get("SMTP_URL") or "").strip(), sender=sender)

    @classmethod
    def from_url(cls, url: str, *, sender: str = DEFAULT_FROM) -> MailSettings:
        """Parse an SMTP URL (see the module docstring); an empty URL gives disabled settings."""
        _check_sender(sender)
        if not url:
            return cls(sender=sender)
        shown = redact_url(url)
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise MailConfigError(f"SMTP_URL {shown!r} is not a valid URL ({exc})") from None
        if parts.scheme not in DEFAULT_PORTS:
            raise MailConfigError(f"SMTP_URL must start with smtp:// or smtps://, not {shown!r}")
        if not parts.hostname:
            raise MailConfigError(f"SMTP_URL {shown!r} has no host, e.g. smtp://mail.example.com:587")
        start_tls = starttls_option("SMTP_URL", shown, parts.scheme, "smtps", parts.query, MailConfigError)
        use_tls = parts.scheme == "smtps"
        if port is None:
            port = STARTTLS_PORT if start_tls else DEFAULT_PORTS[parts.scheme]
        return cls(
            host=parts.hostname,
            port=port,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            use_tls=use_tls,
            start_tls=False if use_tls else start_tls,
            sender=sender,
        )

    def describe(self) -> str:
        """Where mail goes, safe to log: `smtp://user:***@host:port`."""
        if not self.enabled:
            return "e-mail disabled (SMTP_URL is empty)"
        user = f"{self.username}:***@" if self.username else ""
        tls = "?starttls=1" if self.start_tls else ("?starttls=0" if self.start_tls is False
                                                    and not self.use_tls else "")
        return f"{'smtps' if self.use_tls else 'smtp'}://{user}{self.host}:{self.port}{tls}"


@dataclass(frozen=True)
class Thread:
    """How a reply of the e-mail channel threads: its own Message-ID (which names the
    conversation), the shopper's mail it answers and the chain before it."""

    message_id: str = ""
    in_reply_to: str = ""
    references: tuple[str, ...] = ()
    auto_submitted: bool = False          # an automatic reply (never answered by auto-responders)


class Mailer:
    """Sends plain-text UTF-8 replies. Stateless: one SMTP connection per message (replies are rare)."""

    def __init__(self, settings: MailSettings | None = None) -> None:
        self.settings = MailSettings.from_env() if settings is None else settings

    @property
    def enabled(self) -> bool:
        return self.settings.enabled

    def compose(self, to: str, subject: str, body: str, *, reply_to: str | None = None,
                message_id_hint: str | None = None, thread: Thread | None = None) -> EmailMessage:
        """The message `send` would send; ValueError on an invalid address or a multi-line header
        (CR/LF in a header would let a shopper's text inject Bcc: or other headers). `thread`:
        the e-mail channel's Message-ID, threading headers and Auto-Submitted."""
        to = _address("to", to)
        subject = _single_line("subject", subject).strip()
        if len(subject) > MAX_SUBJECT_LEN:
            raise ValueError(f"subject longer than {MAX_SUBJECT_LEN} characters")
        if not isinstance(body, str):
            raise ValueError("body must be a string")
        msg = EmailMessage()
        msg["From"] = self.settings.sender
        msg["To"] = to
        msg["Subject"] = subject
        if reply_to is not None:
            msg["Reply-To"] = _address("reply_to", reply_to)
        msg["Date"] = formatdate(localtime=True)
        if thread is not None and thread.message_id:
            msg["Message-ID"] = _msgid("message_id", thread.message_id)
        else:
            hint = _HINT_UNSAFE.sub("-", message_id_hint or "").strip("-.")[:32] or None
            msg["Message-ID"] = make_msgid(idstring=hint, domain=_msgid_domain(self.settings.sender_address))
        if thread is not None:
            if thread.in_reply_to:
                msg["In-Reply-To"] = _msgid("in_reply_to", thread.in_reply_to)
            refs = [_msgid("references", r) for r in thread.references][-MAX_REFERENCES:]
            if refs:
                msg["References"] = " ".join(refs)
            if thread.auto_submitted:
                msg["Auto-Submitted"] = "auto-replied"      # RFC 3834: auto-responders stay silent
                msg["X-Auto-Response-Suppress"] = "All"     # ... and so do Microsoft's
        msg.set_content(body, charset="utf-8")
        return msg

    async def send(self, to: str, subject: str, body: str, *, reply_to: str | None = None,
                   message_id_hint: str | None = None, thread: Thread | None = None) -> str:
        """Send one message and return its Message-ID (store it to thread the shopper's answer).
        Raises MailDisabled without SMTP_URL, ValueError on bad input, MailError if SMTP fails."""
        if not self.enabled:
            raise MailDisabled("e-mail is disabled: set SMTP_URL (e.g. smtp://user:pass@host:587?starttls=1)")
        msg = self.compose(to, subject, body, reply_to=reply_to, message_id_hint=message_id_hint,
                           thread=thread)
        s = self.settings
        try:
            await aiosmtplib.send(
                msg.as_bytes(policy=WIRE), sender=s.sender_address, recipients=[str(msg["To"])],
                hostname=s.host, port=s.port, username=s.username, password=s.password,
                use_tls=s.use_tls, start_tls=s.start_tls, timeout=s.timeout_s,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise MailError(f"could not send e-mail via {s.describe()}: "
                            f"{exc or type(exc).__name__}") from exc
        message_id = str(msg["Message-ID"])
        log.info("e-mail %s sent via %s", message_id, s.describe())
        return message_id




def _msgid(name: str, value: str) -> str:
    value = _single_line(name, value).strip()
    if not _MSGID.fullmatch(value):
        raise ValueError(f"{name} must be one message id like <id@domain>, not {value[:80]!r}")
    return value


def _single_line(name: str, value: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string")
    if _CONTROL.search(value):
        raise ValueError(f"{name} must be a single line without control characters (CR/LF)")
    return value


def _address(name: str, value: str) -> str:
    """One plain address, validated (syntax only: no DNS) and normalised."""
    value = _single_line(name, value).strip()
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"invalid {name} address {value!r}: {exc}") from None


def _check_sender(sender: str) -> None:
    if _CONTROL.search(sender) or "@" not in parseaddr(sender)[1]:
        raise MailConfigError(f"SMTP_FROM must be an address like support@shop.example "
                              f"or 'Shop <support@shop.example>', not {sender!r}")


def _msgid_domain(address: str) -> str:
    """The sender's domain for Message-IDs (never socket.getfqdn(): it may block on DNS)."""
    domain = address.rpartition("@")[2]
    try:
        return domain.encode("idna").decode("ascii") or "localhost"
    except UnicodeError:
        return "localhost"
