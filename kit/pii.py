"""Personal data kept out of analytics and logs: masking in free text, keyed pseudonyms for ids.

The pseudonymisation key is read once here (ANALYTICS_SECRET), so the event log and the GDPR
erase always compute the same pseudonym for a customer.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re

_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_CARD_RE = re.compile(r"(?<![\d+])(?:\d[ -]?){12,18}\d(?!\d)")
_PHONE_INTL_RE = re.compile(r"(?<![\w+])(?:\+|\b00)[1-9]\d{0,2}(?:[ .-]?\(0\))?(?:[ .-]?\d){6,12}(?!\d)")
_PHONE_FR_RE = re.compile(r"(?<![\d+])0[1-9](?:[ .-]?\d{2}){4}(?!\d)")


def luhn_ok(digits: str) -> bool:
    """Luhn checksum of a string of digits (card numbers)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return "[card]" if 13 <= len(digits) <= 19 and luhn_ok(digits) else match.group()


def mask_pii(text_: str) -> str:
    """The text with e-mail addresses, card numbers (13-19 digits passing Luhn) and phone numbers
    (French 0X XX XX XX XX, international +CC / 00CC) replaced by [email], [card], [phone].
    Everything else (order numbers, dates, prices) is kept."""
    out = _EMAIL_RE.sub("[email]", text_)
    out = _CARD_RE.sub(_card, out)
    out = _PHONE_INTL_RE.sub("[phone]", out)
    return _PHONE_FR_RE.sub("[phone]", out)


def pseudonymize(value: str, secret: bytes, prefix: str = "cust_") -> str:
    """A stable keyed hash of an identifier (e.g. 'whatsapp:33612345678'); idempotent on its output."""
    if value.startswith(prefix):
        return value
    digest = hmac.new(secret, value.encode(), hashlib.sha256).hexdigest()[:24]
    return prefix + digest


DEFAULT_ANALYTICS_SECRET = "shop-support-analytics"   # refused in production (gateway/settings.py)


def analytics_secret() -> bytes:
    """The key of `pseudonymize` for the CLIs (env ANALYTICS_SECRET); the gateway passes its
    Settings' value down instead."""
    return os.environ.get("ANALYTICS_SECRET", DEFAULT_ANALYTICS_SECRET).encode()
