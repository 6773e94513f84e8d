"""The texts of the agent console, the manager dashboard and the FAQ studio:
`GET /api/texts/{scope}?lang=fr|en`.

Texts live in locales/fr.yml and locales/en.yml (kit.texts); the pages ask for their section
and put each text in with textContent (widget/console/i18n.js). Public on purpose: the login
screens need them before anyone signs in, and they hold no data, only the page's wording.
Only the three pages' sections are served (any other scope is 404: the shoppers' and future
sections are not an open directory); `lang` is "fr" or "en", anything else is 422 (never
echoed back). Cacheable: `public, max-age` plus an ETag of the content (texts change on deploy).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from kit.texts import section

from .errors import error_response
from .pages import cacheable, etag_of

router = APIRouter(prefix="/api/texts", tags=["texts"])
SCOPES = ("console", "dashboard", "studio")
MAX_AGE_S = 300
Lang = Literal["fr", "en"]


@cache
def _rendered(scope: str, lang: str) -> tuple[bytes, str]:
    """The response body and its ETag, once per process (the catalogue is read once too)."""
    # the contact reasons' names (locales `reasons:`) come along: every page shows reasons
    reasons = {f"reasons.{code}": name for code, name in section(lang, "reasons").items()}
    body = json.dumps({"scope": scope, "lang": lang, "texts": {**reasons, **section(lang, scope)}},
                      ensure_ascii=False, sort_keys=True).encode("utf-8")
    return body, etag_of(body)


@router.get("/{scope}", responses={
    200: {"description": "the page's texts by key (`login.title`, ...)", "content": {"application/json": {
        "schema": {"type": "object", "required": ["scope", "lang", "texts"], "properties": {
            "scope": {"type": "string"}, "lang": {"type": "string", "enum": ["fr", "en"]},
            "texts": {"type": "object", "additionalProperties": {"type": "string"}}}}}}},
    304: {"description": "not modified (If-None-Match)"},
    404: {"description": "not a page's texts (scope is console, dashboard or studio)"},
})
async def texts(request: Request,
                scope: Annotated[str, Path(description="console | dashboard | studio; anything else is 404")],
                lang: Annotated[Lang, Query(description="fr (default) or en; anything else is 422")] = "fr",
                ) -> Response:
    """One page's texts in one language (French by default)."""
    if scope not in SCOPES:
        return error_response(404, "no texts for this page")
    return cacheable(request, *_rendered(scope, lang), media_type="application/json", max_age=MAX_AGE_S)
