"""The e-mail channel's settings, from environment variables only (secrets never in files).

- `MAIL_ADDRESS`: the support mailbox shoppers write to (default: SMTP_FROM's address);
- `MAIL_SECRET`: signs reply addresses and Message-IDs (mail/threads.py), 16+ characters;
- `IMAP_URL`: the mailbox to read (`imaps://user:pass@host:993/INBOX`), or empty;
- `MAILGUN_SIGNING_KEY`: turns on `POST /webhooks/mailgun/mime` (Mailgun's raw MIME route), or empty;
- `MAIL_AUTO_REPLIES_PER_DAY`: automatic replies one sender may receive a day (default 3);
- `MAIL_DIR`: where originals and quarantined mails are kept (default var/mail).

The channel is on when MAIL_SECRET and a way in (IMAP_URL or MAILGUN_SIGNING_KEY) are set.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path

from email_validator import EmailNotValidError, validate_email

DEFAULT_REPLIES_PER_DAY = 3


@dataclass(frozen=True)
class MailChannelSettings:
    address: str = ""
    secret: str = field(default="", repr=False)
    imap_url: str = field(default="", repr=False)
    mailgun_key: str = field(default="", repr=False)
    replies_per_day: int = DEFAULT_REPLIES_PER_DAY
    folder: Path = Path("var/mail")

    @property
    def enabled(self) -> bool:
        return bool(self.secret and self.address and (self.imap_url or self.mailgun_key))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MailChannelSettings:
        env = os.environ if environ is None else environ

        def get(name: str, default: str = "") -> str:
            return (env.get(name) or "").strip() or default

        address = get("MAIL_ADDRESS") or parseaddr(get("SMTP_FROM"))[1]
        secret = get("MAIL_SECRET")
        if secret and len(secret) < 16:
            raise ValueError("MAIL_SECRET must be at least 16 characters (it signs reply addresses)")
        if address:
            try:   # the reply address is built on it: SMTP must accept it (no reserved domain)
                validate_email(address, check_deliverability=False)
            except EmailNotValidError as exc:
                raise ValueError(f"MAIL_ADDRESS (or SMTP_FROM) {address!r} is not a usable address: "
                                 f"{exc}") from None
        raw = get("MAIL_AUTO_REPLIES_PER_DAY", str(DEFAULT_REPLIES_PER_DAY))
        try:
            per_day = int(raw)
        except ValueError:
            per_day = -1
        if not 0 <= per_day <= 1000:
            raise ValueError(f"MAIL_AUTO_REPLIES_PER_DAY must be a whole number from 0 to 1000, not {raw!r}")
        return cls(address=address, secret=secret, imap_url=get("IMAP_URL"),
                   mailgun_key=get("MAILGUN_SIGNING_KEY"), replies_per_day=per_day,
                   folder=Path(get("MAIL_DIR", "var/mail")))
