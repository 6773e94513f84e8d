"""Cold NPS survey links for e-mails: `{PUBLIC_URL}/survey/nps/{token}`.

The token is signed (HMAC-SHA256 with SURVEY_SECRET) and says what is rated (a ticket or a
conversation), in which language, and until when the link works; nothing is stored until the
customer answers, and a forged or edited link is refused. One answer per link: the answer's
event id is derived from the token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass


class BadLink(ValueError):
    """The link is forged, edited, truncated or expired (the message says which)."""


@dataclass(frozen=True)
class SurveyLink:
    kind: str          # "ticket" | "conversation"
    ref: str           # the ticket or conversation id
    lang: str
    expires: int       # epoch seconds

    @property
    def answer_id(self) -> str:
        return "nps-link:" + hashlib.sha256(f"{self.kind}:{self.ref}".encode()).hexdigest()[:32]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SurveyLinks:
    def __init__(self, secret: str | bytes, public_url: str, *, days: int = 30):
        if not secret:
            raise ValueError("SURVEY_SECRET is empty")
        self.secret = secret.encode() if isinstance(secret, str) else secret
        self.public_url = public_url.rstrip("/")
        self.days = days


    def token(self, kind: str, ref: str, lang: str, *, now: float | None = None) -> str:
        if kind not in ("ticket", "conversation"):
            raise ValueError(f"kind must be ticket or conversation, got {kind!r}")
        expires = int((now if now is not None else time.time()) + self.days * 86400)
        payload = _b64(json.dumps({"k": kind, "r": ref, "l": lang, "e": expires},
                                  separators=(",", ":")).encode())
        return f"{payload}.{self._sign(payload)}"

    def url(self, kind: str, ref: str, lang: str) -> str:
        return f"{self.public_url}/survey/nps/{self.token(kind, ref, lang)}"

    def read(self, token: str, *, now: float | None = None) -> SurveyLink:
        payload, _, signature = token.partition(".")
        if not payload or not signature or not hmac.compare_digest(signature, self._sign(payload)):
            raise BadLink("this survey link is not valid")
        try:
            data = json.loads(_unb64(payload))
            link = SurveyLink(str(data["k"]), str(data["r"]), str(data["l"]), int(data["e"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise BadLink("this survey link is not valid") from exc
        if link.expires < (now if now is not None else time.time()):
            raise BadLink("this survey link has expired")
        return link

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self.secret, payload.encode(), hashlib.sha256).digest())
