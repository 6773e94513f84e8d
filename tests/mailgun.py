"""Mailgun's raw-MIME route as it posts a received mail: the form fields and their signature
(HMAC-SHA256 of timestamp + token with the signing key), for tests that feed the webhook."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

PATH = "/webhooks/mailgun/mime"


def mailgun_form(raw: bytes, key: str, *, stamp: int | None = None,
                 token: str | None = None) -> dict[str, str]:
    stamp = int(time.time()) if stamp is None else stamp
    token = token or secrets.token_hex(25)
    signature = hmac.new(key.encode(), f"{stamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {"timestamp": str(stamp), "token": token, "signature": signature, "body-mime": raw.decode("utf-8")}
