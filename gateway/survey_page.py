"""The cold NPS survey page behind the link in ticket-reply e-mails: `/survey/nps/{token}`.

Server-rendered, works without JavaScript; the signed token says what is rated and in which
language (handoff.survey_links). One answer per link: a second one is thanked, not counted.
The answer is claimed in Redis for as long as a link of that ticket can live, because the
analytics dedupe it also goes through forgets event ids after 30 days and links may last 366.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from analytics import events as ev
from handoff.survey_links import BadLink, SurveyLink
from kit import texts
from kit.keys import SURVEY_ANSWERED

from .deps import get_state
from .pages import STRICT_CSP
from .templating import render

router = APIRouter()
MAX_FORM_BYTES = 8 * 1024
MAX_LINK_S = 366 * 86400                        # the longest surveys.nps_link_days (shop_config)



def _page(state: Any, lang: str, status: int = 200, **context: Any) -> HTMLResponse:
    lang = texts.norm_lang(lang)
    shop = state.shop.shop.name if state.shop else ""
    body = render("survey/nps.html", lang=lang, t=texts.section(lang, "survey_page"), shop=shop,
                                                **{"view": "form", "error": None, **context})
    return HTMLResponse(body, status_code=status, headers={
        "Content-Security-Policy": STRICT_CSP, "Cache-Control": "no-store"})


def _link(state: Any, token: str) -> SurveyLink | HTMLResponse:
    if state.survey_links is None:
        return _page(state, "fr", 404, view="message", message=texts.text("fr", "survey_page.off"))
    try:
        return state.survey_links.read(token)  # type: ignore[no-any-return]
    except BadLink as exc:
        key = "expired" if "expired" in str(exc) else "invalid"
        return _page(state, "fr", 410 if key == "expired" else 404, view="message",
                     message=texts.text("fr", f"survey_page.{key}"))


async def _claim(state: Any, link: SurveyLink) -> bool:
    """First answer for this link's ticket/conversation? (atomic: SET NX)"""
    if state.redis is None:
        return True
    key = SURVEY_ANSWERED.format(answer=link.answer_id)
    return bool(await state.redis.set(key, "1", nx=True, exat=link.expires + MAX_LINK_S))


async def _unclaim(state: Any, link: SurveyLink) -> None:
    if state.redis is not None:
        await state.redis.delete(SURVEY_ANSWERED.format(answer=link.answer_id))


@router.get("/survey/nps/{token}", include_in_schema=False)
async def survey_form(request: Request, token: str) -> HTMLResponse:
    state = get_state(request)
    link = _link(state, token)
    if isinstance(link, HTMLResponse):
        return link
    return _page(state, link.lang)


@router.post("/survey/nps/{token}", include_in_schema=False)
async def survey_answer(request: Request, token: str) -> HTMLResponse:
    state = get_state(request)
    link = _link(state, token)
    if isinstance(link, HTMLResponse):
        return link
    raw = await request.body()
    form = parse_qs(raw[:MAX_FORM_BYTES].decode("utf-8", "replace"), max_num_fields=5)
    score_text = (form.get("score") or [""])[0]
    if not score_text.isdigit() or not 0 <= int(score_text) <= 10:
        return _page(state, link.lang, 422, error=texts.text(link.lang, "survey_page.pick"))
    why = (form.get("why") or [""])[0].strip()
    ref = {link.kind: link.ref}
    event = ev.survey_answered(survey="nps", score=int(score_text), verbatim=why or None,
                               id=link.answer_id, **ref)
    t = texts.section(link.lang, "survey_page")
    if not await _claim(state, link):
        return _page(state, link.lang, view="message", message=t["already"])
    try:
        counted = await state.recorder.log.append(event) if state.recorder and state.recorder.log else True
    except Exception:
        await _unclaim(state, link)  # not counted: the customer may send it again
        raise
    return _page(state, link.lang, view="message", message=t["thanks"] if counted else t["already"])
