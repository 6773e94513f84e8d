"""`POST /webhooks/mailgun/mime`: e-mails that a provider receives for the shop and posts here,
as Mailgun's raw-MIME route (`forward("https://.../webhooks/mailgun/mime")`) does.

The signature is Mailgun's: HMAC-SHA256 of `timestamp + token` with the signing key
(MAILGUN_SIGNING_KEY), compared in constant time; a timestamp older than 5 minutes or a token
seen before is a replay. The raw mail then takes the same path as one read by IMAP
(mail/ingest.py). Mailgun retries anything but 200 and 406: a forged call gets 403, a replay 200
(nothing to do), a mail we could not even parse 200 too (it is quarantined, never lost). Like
the Meta webhooks: 403 for a bad signature, 503 while the channel is not configured.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile

from kit.keys import MAILGUN_TOKEN

from .deps import get_state
from .errors import error_response

log = logging.getLogger("gateway.mail")
router = APIRouter()
PATH = "/webhooks/mailgun/mime"
MAX_BYTES = 40 * 1024 * 1024       # the raw mail and its attachments, in one form field
MAX_SKEW_S = 300


def signature_ok(key: str, timestamp: str, token: str, signature: str, now: float) -> bool:
    try:
        stamp = int(timestamp)
    except ValueError:
        return False
    if abs(now - stamp) > MAX_SKEW_S or not token or len(token) > 200:
        return False
    expected = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature.strip().lower())


@router.post(PATH, include_in_schema=False)
async def mailgun_mime(request: Request) -> JSONResponse:
    state = get_state(request)
    ingest = state.mail_ingest
    key = state.mail.mailgun_key if state.mail is not None else ""
    if ingest is None or not key:
        return error_response(503, "the e-mail webhook is not configured (MAILGUN_SIGNING_KEY)")
    try:
        form = await request.form(max_files=2, max_fields=50, max_part_size=MAX_BYTES)
    except Exception:   # malformed multipart, a part over the limit
        return error_response(400, "the body must be Mailgun's multipart form with body-mime")
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    if not signature_ok(key, fields.get("timestamp", ""), fields.get("token", ""),
                        fields.get("signature", ""), time.time()):
        return error_response(403, "invalid Mailgun signature")
    body = form.get("body-mime")
    if isinstance(body, UploadFile):
        raw = await body.read()
    elif isinstance(body, str) and body:
        raw = body.encode("utf-8", "surrogateescape")
    else:
        return error_response(406, "no body-mime field: post to a route URL ending in /mime")
    token_key = MAILGUN_TOKEN.format(token=hashlib.sha256(fields["token"].encode()).hexdigest())
    if not await state.redis.set(token_key, "1", nx=True, ex=2 * MAX_SKEW_S):
        return JSONResponse({"status": "replayed"})
    try:
        outcome = await ingest.receive(raw, source="mailgun")
    except Exception:
        await state.redis.delete(token_key)   # Mailgun's retry with the same token must go through
        raise
    return JSONResponse({"status": outcome.status})
