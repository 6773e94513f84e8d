"""The FAQ studio's API (`/api/editor/...`): everything the `/studio` page does, for the
`editor` role and admins (401 without a login, 403 for other roles).

- `GET entries`: the entries with their health (filters on the page); `GET entries/{id}`: the
  form's fields, the file and its version.
- `POST preview`: an answer's markdown rendered by the widget's and help centre's renderer and
  sanitiser. `POST check`: the draft's errors and warnings, each with its field.
- `POST try`: a question asked of the draft (applied in memory, nothing saved) and of the live KB.
- `POST impact`: the eval questions and recent real ones, live vs draft.
- `PUT entries/{id}` (`version` = the one the editor started from: 409 with the other's text
  when it moved), `POST entries` (a new one); a change that makes the impact worse needs
  `confirm: true` (409 `worse` otherwise). The gateway's watcher hot-reloads what is written.
- `GET entries/{id}/versions`, `GET entries/{id}/versions/{v}`, `POST .../versions/{v}/restore`.
- `GET topics/draft?q=...`: a new entry prefilled from a missing-FAQ topic of the dashboard.

Drafts are bounded (sizes below) and each editor gets a budget of draft builds per hour: a draft
index costs a second of CPU.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from analytics import report
from editor.entry_file import EntryDraft
from editor.history import history_for
from editor.studio import Studio, StudioError, questions_of

from .agent_api import current_account
from .channels.web import digest
from .deps import GatewayState, get_state
from .errors import error_response
from .ratelimit import RateLimit
from .render import markdown_html

log = logging.getLogger("gateway.editor")
router = APIRouter(prefix="/api/editor")
EDITOR_ROLES = ("editor", "admin")
DRAFTS_PER_HOUR = 600
STATUS = {"not_found": 404, "conflict": 409, "invalid": 422, "worse": 409}
Text = Annotated[str, Field(max_length=200)]


async def current_editor(request: Request) -> Any:
    account = await current_account(request)
    if account.role not in EDITOR_ROLES:
        raise HTTPException(403, "the FAQ studio is for editors and admins")
    return account


Editor = Annotated[Any, Depends(current_editor)]


class Draft(BaseModel):
    id: str = Field(min_length=1, max_length=80)
    lang: str = Field(max_length=5)
    reason: str = Field(default="", max_length=120)
    title: str = Field(default="", max_length=200)
    questions: list[Text] = Field(default_factory=list, max_length=30)
    answer: str = Field(default="", max_length=20_000)
    tags: list[Annotated[str, Field(max_length=40)]] = Field(default_factory=list, max_length=20)
    variants: dict[Annotated[str, Field(max_length=30)], Annotated[str, Field(max_length=20_000)]] = Field(
        default_factory=dict, max_length=5)

    def entry(self) -> EntryDraft:
        return EntryDraft(id=self.id.strip(), lang=self.lang.strip(), reason=self.reason.strip(),
                          questions=[q.strip() for q in self.questions if q.strip()],
                          answer=self.answer.strip(),
                          title=self.title.strip(), tags=[t.strip() for t in self.tags if t.strip()],
                          variants={k.strip(): v.strip() for k, v in self.variants.items()})


class DraftOf(BaseModel):
    draft: Draft
    entry_id: str | None = Field(default=None, max_length=80,
                                 description="the entry edited; none for a new one")


class TryIt(DraftOf):
    question: str = Field(min_length=1, max_length=500)


class Save(BaseModel):
    draft: Draft
    version: str = Field(default="", max_length=64, description="the version the edit started from")
    confirm: bool = Field(default=False, description="publish even if the impact check says worse")
    message: str = Field(default="", max_length=200)


class Restore(BaseModel):
    version: str = Field(max_length=64, description="the entry's current version (conflict check)")


class Preview(BaseModel):
    answer: str = Field(max_length=20_000)


def _studio(state: GatewayState) -> Studio:
    """The studio on the FAQ index being served (made once it is loaded)."""
    service = state.index.faq()
    if service is None:
        raise HTTPException(503, "the FAQ index is not loaded yet")
    if state.studio is None or state.studio.service is not service:
        state.studio = Studio(service, history_for(service.kb_dir, state.settings.kb_versions_dir),
                              eval_csv=service.kb_dir / "eval.csv")
    return state.studio


def _shop_today(state: GatewayState) -> date:
    """The shop's calendar day, which analytics count by: the server's UTC date is yesterday's
    for an hour each night in Paris, and the last 30 days then missed the events of today."""
    return state.action_services.hours.day_of(state.clock())


def _error(exc: StudioError) -> JSONResponse:
    return error_response(STATUS.get(exc.code, 400), str(exc), code=exc.code, **exc.details)


async def _budget(state: GatewayState, editor: Any) -> JSONResponse | None:
    wait = await RateLimit(state.redis, DRAFTS_PER_HOUR, 3600).hit(f"editor-drafts:{digest(editor.email)}")
    if wait:
        return error_response(429, "too many drafts checked this hour", headers={"Retry-After": str(wait)})
    return None


def _opened(opened: Any) -> dict[str, Any]:
    return {"entry_id": opened.entry_id, "path": opened.path, "version": opened.version,
            "draft": opened.draft.to_dict()}


@router.get("/entries")
async def entries(request: Request, editor: Editor) -> JSONResponse:
    """Every entry: id, language, reason, title, tags, questions count, and its health over the
    last 30 days (answers shown, thumbs up/down and the down rate, suggestions not clicked,
    answers voted down), whether it shares a question with another entry (`conflict`), and
    whether its contact reason has an entry in the other language (`translated`); and the
    contact reasons an entry may take (the taxonomy's leaves)."""
    state = get_state(request)
    studio = _studio(state)
    studio.warm()   # the live answers an impact check compares with, computed meanwhile
    listed = studio.service.entries()
    reasons_by_lang: dict[str, set[str]] = {}
    for e in listed:
        reasons_by_lang.setdefault(e.lang, set()).add(e.reason)
    today = _shop_today(state)
    health = await report.entry_health(state.redis, today - timedelta(days=30), today)
    conflicts = await asyncio.to_thread(studio.conflicts)
    rows = []
    for e in sorted(listed, key=lambda e: (e.lang, e.reason, e.id)):
        h = health.get(e.id, report.NO_HEALTH)
        votes = h["up"] + h["down"]
        rows.append({"id": e.id, "lang": e.lang, "reason": e.reason, "title": e.title, "tags": list(e.tags),
                     "questions": len(e.questions),
                     "translated": any(e.reason in reasons
                                       for lang, reasons in reasons_by_lang.items() if lang != e.lang),
                     "conflict": e.id in conflicts,
                     "health": {**h, "down_rate": round(h["down"] / votes, 3) if votes else None}})
    reasons = [code for code, _ in studio.service.taxonomy() if "/" in code]   # the taxonomy's leaves
    return JSONResponse({"entries": rows, "reasons": reasons, "history": studio.history.kind})


@router.get("/entries/{entry_id}")
async def entry(request: Request, entry_id: str, editor: Editor) -> JSONResponse:
    try:
        return JSONResponse(_opened(await asyncio.to_thread(_studio(get_state(request)).open, entry_id)))
    except StudioError as exc:
        return _error(exc)


@router.post("/preview")
async def preview(body: Preview, editor: Editor) -> JSONResponse:
    """The answer as shoppers will see it (the widget's and /help's renderer and sanitiser)."""
    return JSONResponse({"html": markdown_html(body.answer)})


@router.post("/check")
async def check(request: Request, body: DraftOf, editor: Editor) -> JSONResponse:
    studio = _studio(get_state(request))
    try:
        issues, _, _ = await asyncio.to_thread(studio.check, body.draft.entry(), body.entry_id)
    except StudioError as exc:
        return _error(exc)
    return JSONResponse({"issues": [i.to_dict() for i in issues],
                         "ok": not any(i.severity == "error" for i in issues)})


async def _draft_kb(state: GatewayState, studio: Studio, body: DraftOf, editor: Any) -> Any:
    limited = await _budget(state, editor)
    if limited is not None:
        return limited
    try:
        issues, kb, _ = await asyncio.to_thread(studio.check, body.draft.entry(), body.entry_id)
    except StudioError as exc:
        return _error(exc)
    if kb is None:
        return error_response(422, "the draft has errors", code="invalid",
                              issues=[i.to_dict() for i in issues])
    return kb


@router.post("/try")
async def try_it(request: Request, body: TryIt, editor: Editor) -> JSONResponse:
    """What the draft KB and the live KB answer to one question (band, score, top 3)."""
    state = get_state(request)
    studio = _studio(state)
    kb = await _draft_kb(state, studio, body, editor)
    if isinstance(kb, JSONResponse):
        return kb
    result = await asyncio.to_thread(studio.try_question, kb, body.question, body.draft.lang)
    return JSONResponse(result)


async def _impact(state: GatewayState, studio: Studio, kb: Any, draft: EntryDraft) -> Any:
    entry = next(e for e in kb.entries if e.id == draft.id)
    today = _shop_today(state)
    rows = await report.unanswered(state.redis, today - timedelta(days=30), today)
    return await asyncio.to_thread(studio.impact, kb, entry, questions_of(rows, entry))


@router.post("/impact")
async def impact(request: Request, body: DraftOf, editor: Editor) -> JSONResponse:
    """Eval questions of the entry's language and recent real ones that reached it or its
    contact reason: which would get another answer, top1 and direct-answer rates before/after."""
    state = get_state(request)
    studio = _studio(state)
    kb = await _draft_kb(state, studio, body, editor)
    if isinstance(kb, JSONResponse):
        return kb
    return JSONResponse((await _impact(state, studio, kb, body.draft.entry())).to_dict())


async def _publish(request: Request, editor: Any, body: Save, entry_id: str | None) -> JSONResponse:
    state = get_state(request)
    studio = _studio(state)
    draft = body.draft.entry()
    measured = None
    if entry_id is not None:        # someone else's publication first: measuring against it means nothing
        try:
            await asyncio.to_thread(studio.unchanged_since, entry_id, body.version)
        except StudioError as exc:
            return _error(exc)
    if not body.confirm:
        checked = await _draft_kb(state, studio, DraftOf(draft=body.draft, entry_id=entry_id), editor)
        if isinstance(checked, JSONResponse):
            return checked
        measured = await _impact(state, studio, checked, draft)
        if measured.worse:
            return error_response(409, "this change makes answers worse: confirm to publish it anyway",
                                  code="worse", impact=measured.to_dict())
    try:
        opened, version = await asyncio.to_thread(
            studio.save, draft, entry_id=entry_id, base_version=body.version,
            author=editor.name or editor.email, email=editor.email, message=body.message)
    except StudioError as exc:
        return _error(exc)
    await asyncio.to_thread(studio.service.reload)     # served now, not at the watcher's next look
    studio.carry_over(opened.entry_id)
    log.info("FAQ entry published", extra={"entry": opened.entry_id, "history": version[:12]})
    return JSONResponse({**_opened(opened), "history_version": version,
                         "impact": measured.to_dict() if measured is not None else None},
                        status_code=201 if entry_id is None else 200)


@router.put("/entries/{entry_id}")
async def save(request: Request, entry_id: str, body: Save, editor: Editor) -> JSONResponse:
    return await _publish(request, editor, body, entry_id)


@router.post("/entries", status_code=201)
async def create(request: Request, body: Save, editor: Editor) -> JSONResponse:
    return await _publish(request, editor, body, None)


@router.get("/entries/{entry_id}/versions")
async def versions(request: Request, entry_id: str, editor: Editor) -> JSONResponse:
    try:
        found = await asyncio.to_thread(_studio(get_state(request)).versions, entry_id)
    except StudioError as exc:
        return _error(exc)
    return JSONResponse({"versions": [v.to_dict() for v in found]})


@router.get("/entries/{entry_id}/versions/{version}")
async def version(request: Request, entry_id: str, version: str, editor: Editor) -> JSONResponse:
    try:
        text = await asyncio.to_thread(_studio(get_state(request)).version_text, entry_id, version)
    except StudioError as exc:
        return _error(exc)
    return JSONResponse({"entry_id": entry_id, "version": version, "text": text})


@router.post("/entries/{entry_id}/versions/{version}/restore")
async def restore(request: Request, entry_id: str, version: str, body: Restore,
                  editor: Editor) -> JSONResponse:
    studio = _studio(get_state(request))
    try:
        opened, recorded = await asyncio.to_thread(
            studio.restore, entry_id, version, base_version=body.version, author=editor.name or editor.email,
            email=editor.email)
    except StudioError as exc:
        return _error(exc)
    await asyncio.to_thread(studio.service.reload)
    return JSONResponse({**_opened(opened), "history_version": recorded})


@router.get("/topics/draft")
async def topic_draft(request: Request, editor: Editor, lang: Annotated[str, Query(max_length=5)],
                      q: Annotated[list[str] | None, Query(max_length=6)] = None,
                      reason: Annotated[str, Query(max_length=120)] = "") -> JSONResponse:
    """A new entry prefilled from a missing-FAQ topic: the shoppers' own questions as its
    questions, the reason suggested by the dashboard."""
    questions = [s.strip()[:200] for s in q or [] if s.strip()]
    title = questions[0] if questions else ""
    return JSONResponse({"draft": EntryDraft(id="", lang=lang, reason=reason, questions=questions, answer="",
                                             title=title).to_dict()})
