"""The agents' working tools (`/api/agent/...`): search, the customer, internal notes, canned
replies, ticket assignment and status, reopening, and the manager's "open chats now".

Same rules as gateway/agent_api.py: a bearer token on every route (401), admins manage canned
replies, managers and admins open chats outside the calendar (403 for others). Searches and
notes are budgeted per account: a stolen account must not read the whole history in a minute.
"""

from __future__ import annotations

from datetime import time
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from handoff.accounts import ANALYTICS_ROLES
from handoff.canned import CannedError, CannedReplies, render
from handoff.desk import CLOSE_REASONS, TICKET_STATUSES, DeskError
from handoff.search import DeskSearch
from shop.opening_exceptions import OpeningError, OpeningExceptions

from .agent_api import Agent, desk_error
from .channels.web import CleanText, digest
from .deps import GatewayState, get_state
from .errors import error_response
from .ratelimit import RateLimit

router = APIRouter(prefix="/api/agent")
SEARCHES_PER_HOUR = 300
NOTES_PER_HOUR = 300
MAX_NOTE_CHARS = 2000


class Note(BaseModel):
    text: CleanText = Field(min_length=1, max_length=MAX_NOTE_CHARS)


class CustomerFields(BaseModel):
    first_name: CleanText = Field(default="", max_length=60)


class Assign(BaseModel):
    to: str = Field(default="", max_length=254)  # an agent's e-mail; empty = nobody


class Status(BaseModel):
    status: Literal["open", "pending", "solved"]


class Canned(BaseModel):
    shortcut: str = Field(min_length=1, max_length=30)
    lang: Literal["fr", "en"]
    title: CleanText = Field(min_length=1, max_length=80)
    body: CleanText = Field(min_length=1, max_length=2000)


class OpenNow(BaseModel):
    until: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM, later today (shop's time)")


assert set(CLOSE_REASONS) == {"solved", "spam", "duplicate"} and set(TICKET_STATUSES) == {
    "open",
    "pending",
    "solved",
}, "the request models above list the desk's values"


async def _within(state: GatewayState, what: str, per_hour: int, agent: Any) -> JSONResponse | None:
    wait = await RateLimit(state.redis, per_hour, 3600).hit(f"agent-{what}:{digest(agent.email)}")
    if wait:
        return error_response(
            429,
            f"too many {what} from this account: try again later", key="too_many_" + what,
            headers={"Retry-After": str(wait)},
            retry_after_s=wait,
        )
    return None


# -- search and the customer ------------------------------------------------------------------


@router.get("/search")
async def search(
    request: Request,
    agent: Agent,
    q: str = Query(min_length=2, max_length=120, description="e-mail, order number, ticket id or words"),
) -> JSONResponse:
    """Conversations and tickets, closed ones included: by ticket id, e-mail, order number or text."""
    state = get_state(request)
    if refused := await _within(state, "searches", SEARCHES_PER_HOUR, agent):
        return refused
    finder = DeskSearch(state.redis, state.order_gate.numbers.normalise)
    return JSONResponse(await finder.search(q))


@router.post("/conversations/{cid}/customer")
async def set_customer(request: Request, cid: str, body: CustomerFields, agent: Agent) -> JSONResponse:
    """What the agent learnt about the customer (a first name for canned replies)."""
    state = get_state(request)
    if await state.transcripts.conversation(cid) is None:
        return error_response(404, "unknown conversation", key="unknown_conversation")
    await state.transcripts.update(cid, first_name=body.first_name.strip())
    return JSONResponse({"conversation_id": cid, "first_name": body.first_name.strip()})


# -- notes --------------------------------------------------------------------------------------


@router.post("/conversations/{cid}/notes", status_code=201)
async def conversation_note(request: Request, cid: str, body: Note, agent: Agent) -> JSONResponse:
    """An internal note: colleagues see it in the console; the customer never does."""

    async def write(state: GatewayState) -> dict:
        note = await state.desk.add_note(cid, agent.email, body.text.strip())
        await state.router.event("note", cid, await state.transcripts.require(cid))
        return note

    return await _noted(request, agent, write)


@router.post("/tickets/{tid}/notes", status_code=201)
async def ticket_note(request: Request, tid: str, body: Note, agent: Agent) -> JSONResponse:
    """An internal note in the ticket's log: agents see it, the customer's e-mail never carries it."""
    return await _noted(request, agent,
                        lambda state: state.desk.ticket_note(tid, agent.email, body.text.strip()))


async def _noted(request: Request, agent: Any, write: Any) -> JSONResponse:
    """A note written by `write(state)`, within the account's hourly budget of notes."""
    state = get_state(request)
    if refused := await _within(state, "notes", NOTES_PER_HOUR, agent):
        return refused
    try:
        note = await write(state)
    except DeskError as exc:
        return desk_error(exc)
    return JSONResponse({"note": note}, status_code=201)


# -- closing and reopening ----------------------------------------------------------------------


@router.post("/conversations/{cid}/reopen")
async def reopen(request: Request, cid: str, agent: Agent) -> JSONResponse:
    """Take a closed conversation back: it is the agent's at once and the customer is told."""
    state = get_state(request)
    try:
        await state.desk.reopen(cid, agent.email, agent.max_conversations)
    except DeskError as exc:
        return desk_error(exc)
    await state.router.agent_joined(cid, agent.email, agent.name)
    return JSONResponse({"conversation_id": cid, "agent": agent.email, "state": "agent"})


# -- tickets ------------------------------------------------------------------------------------


@router.post("/tickets/{tid}/assign")
async def assign(request: Request, tid: str, body: Assign, agent: Agent) -> JSONResponse:
    state = get_state(request)
    target = ""
    if body.to:
        found = await state.accounts.get(body.to)
        if found is None:
            return error_response(404, f"no agent {body.to}", key="unknown_agent", agent=body.to)
        target = found.email
    try:
        await state.desk.assign_ticket(tid, target, agent.email)
    except DeskError as exc:
        return desk_error(exc)
    return JSONResponse({"ticket": await state.desk.ticket(tid)})


@router.post("/tickets/{tid}/status")
async def set_status(request: Request, tid: str, body: Status, agent: Agent) -> JSONResponse:
    state = get_state(request)
    try:
        await state.desk.set_ticket_status(tid, body.status, agent.email)
    except DeskError as exc:
        return desk_error(exc)
    return JSONResponse({"ticket": await state.desk.ticket(tid)})


# -- canned replies -----------------------------------------------------------------------------


def _canned(state: GatewayState) -> CannedReplies:
    return CannedReplies(state.redis)


async def _variables(state: GatewayState, cid: str, agent: Any, lang: str) -> dict[str, str]:
    conv = await state.transcripts.conversation(cid) or {}
    numbers = state.order_gate.numbers
    typed = [
        n
        for m in reversed(await state.transcripts.recent(cid, 200))
        if m.role == "shopper" and (n := numbers.find(m.text))
    ]
    name = agent.name if agent.name and "@" not in agent.name else ""
    return {
        "first_name": conv.get("first_name", ""),
        "order_number": typed[0] if typed else "",
        "agent": name,
        "next_opening": state.action_services.next_opening(lang),
    }


@router.get("/canned")
async def canned(
    request: Request,
    agent: Agent,
    lang: Literal["fr", "en"] | None = None,
    conversation: str = Query(default="", max_length=80),
) -> JSONResponse:
    """The canned replies (in `lang`, or all); with `conversation`, each also rendered for it."""
    state = get_state(request)
    replies = await _canned(state).all(lang)
    conv = await state.transcripts.conversation(conversation) if conversation else None
    if conversation and conv is None:
        return error_response(404, "unknown conversation", key="unknown_conversation")
    out = []
    for reply in replies:
        item = {
            "id": reply.id,
            "shortcut": reply.shortcut,
            "lang": reply.lang,
            "title": reply.title,
            "body": reply.body,
            "updated_by": reply.updated_by,
        }
        if conversation:
            item["text"] = render(reply.body, await _variables(state, conversation, agent, reply.lang))
        out.append(item)
    return JSONResponse({"canned": out, "can_edit": agent.role == "admin"})


@router.post("/canned", status_code=201)
async def add_canned(request: Request, body: Canned, agent: Agent) -> JSONResponse:
    return await _save_canned(request, body, agent, "")


@router.put("/canned/{reply_id}")
async def edit_canned(request: Request, reply_id: str, body: Canned, agent: Agent) -> JSONResponse:
    return await _save_canned(request, body, agent, reply_id)


async def _save_canned(request: Request, body: Canned, agent: Any, reply_id: str) -> JSONResponse:
    if agent.role != "admin":
        return error_response(403, "only an admin manages canned replies", key="admin_only")
    try:
        reply = await _canned(get_state(request)).save(
            shortcut=body.shortcut,
            lang=body.lang,
            title=body.title,
            body=body.body,
            by=agent.email,
            reply_id=reply_id,
        )
    except CannedError as exc:
        field = str(exc).partition(":")[0]
        return error_response(422, str(exc), key=exc.key, **exc.params,
                              errors=[{"field": field, "in": "body", "message": str(exc)}])
    except KeyError:
        return error_response(404, "no such canned reply", key="unknown_canned")
    return JSONResponse({"canned": reply.__dict__}, status_code=201 if not reply_id else 200)


@router.delete("/canned/{reply_id}")
async def delete_canned(request: Request, reply_id: str, agent: Agent) -> JSONResponse:
    if agent.role != "admin":
        return error_response(403, "only an admin manages canned replies", key="admin_only")
    if not await _canned(get_state(request)).delete(reply_id):
        return error_response(404, "no such canned reply", key="unknown_canned")
    return JSONResponse({"deleted": reply_id})


# -- hours --------------------------------------------------------------------------------------


def openings(state: GatewayState) -> OpeningExceptions:
    services = state.action_services
    return OpeningExceptions(state.redis, services.hours, services.clock)


@router.post("/hours/open-now")
async def open_now(request: Request, body: OpenNow, agent: Agent) -> JSONResponse:
    """A manager opens chats outside the calendar, from now until `until` today (recorded with
    who did it; every gateway applies it within seconds)."""
    if agent.role not in ANALYTICS_ROLES:
        return error_response(403, "only a manager or an admin opens chats outside the calendar",
                              key="manager_only")
    hours, until = openings(get_state(request)), time.fromisoformat(body.until)
    try:
        opened = await hours.open_now(until, agent.email)
    except OpeningError as exc:
        return error_response(
            422, f"until: {exc}", key="opening_until",
            errors=[{"field": "until", "in": "body", "message": str(exc)}],
        )
    return JSONResponse({"opened": opened})


@router.delete("/hours/open-now")
async def close_now(request: Request, agent: Agent) -> JSONResponse:
    """Back to the calendar for today."""
    if agent.role not in ANALYTICS_ROLES:
        return error_response(403, "only a manager or an admin changes today's opening", key="manager_only")
    return JSONResponse({"removed": await openings(get_state(request)).cancel_today()})
