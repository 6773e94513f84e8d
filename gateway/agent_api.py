"""The agents' API (`/api/agent/...`): login, presence, the handoff queue, conversations, tickets.

Every route but login needs `Authorization: Bearer <token>` (401 without a valid one);
acting on a conversation needs to hold it (403), admins may act on any. Claims are atomic
in Redis: two agents asking for the same conversation get one 200 and one 409.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from email_validator import EmailNotValidError, validate_email
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator

from conversation.message import MAX_TEXT_CHARS
from conversation.ports import DeliveryRefused
from conversation.transcript import UnknownConversation
from handoff.desk import DeskError
from handoff.login_guard import LoginGuard

from .channels.web import After, CleanText, digest, valid_order_number, with_html
from .deps import GatewayState, get_state
from .errors import error_response

router = APIRouter(prefix="/api/agent")
DESK_EXCLUDED_ROLES = ("editor",)
OWN_ACCOUNT_PATHS = ("/api/agent/me", "/api/agent/logout", "/api/agent/language")
STATUS = {"conflict": 409, "full": 409, "forbidden": 403, "not_found": 404, "invalid": 422,
          "unavailable": 503}


class AuthError(Exception):
    pass


class Login(BaseModel):
    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)


class Presence(BaseModel):
    status: Literal["online", "away"]


class Language(BaseModel):
    lang: Literal["fr", "en"]


class Reply(BaseModel):
    text: CleanText = Field(min_length=1)


class Transfer(BaseModel):
    to: str = Field(default="", max_length=254)   # an agent's e-mail; empty = back to the queue


class NewTicket(BaseModel):
    conversation_id: str = ""
    email: str = Field(max_length=254)
    order_number: str = Field(default="", max_length=40)   # empty or the shop's format (checked below)
    message: CleanText = Field(min_length=1)
    lang: str = Field(default="fr", max_length=5)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        try:
            return validate_email(value, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise ValueError(f"invalid e-mail address: {exc}") from exc


async def current_account(request: Request) -> Any:
    """The logged-in account of the bearer token (401 without one), whatever its role."""
    state = get_state(request)
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip() if scheme.lower() == "bearer" else ""
    agent = await state.accounts.agent_for_token(token) if token else None
    if agent is None:
        raise AuthError()
    return agent


async def current_agent(request: Request) -> Any:
    """An account of the help desk. An editor's account (the FAQ studio) reaches only its own
    session and settings here: never conversations, tickets or customers, and it never counts
    as an agent online (403 elsewhere, no heartbeat)."""
    agent = await current_account(request)
    if agent.role in DESK_EXCLUDED_ROLES:
        if request.url.path not in OWN_ACCOUNT_PATHS:
            raise HTTPException(403, "this account is for the FAQ studio, not the help desk")
        return agent
    await get_state(request).desk.heartbeat(agent.email)
    return agent


Agent = Annotated[Any, Depends(current_agent)]


def desk_error(exc: DeskError) -> JSONResponse:
    return error_response(STATUS.get(exc.code, 400), str(exc), code=exc.code, key=exc.key or None,
                          **exc.params)


@router.post("/login")
async def login(request: Request, body: Login) -> JSONResponse:
    """Limits are keyed on the normalised e-mail and the client address (handoff/login_guard.py):
    a stranger's failures lock only their own address out, and slow the owner by seconds at most."""
    state = get_state(request)
    guard = LoginGuard(state.redis)
    address = request.client.host if request.client else "unknown"
    wait = await guard.admit(body.email, address)
    if wait:
        message = ("too many login attempts on this account: retry in a few seconds"
                   if wait.reason == "slow_down" else "too many failed logins: try again later")
        return error_response(429, message, headers={"Retry-After": str(wait.seconds)},
                              key="login_" + wait.reason, retry_after_s=wait.seconds)
    result = await state.accounts.login(body.email, body.password)
    if result is None:
        await guard.failed(body.email, address)
        return error_response(401, "wrong e-mail or password", key="login_wrong")
    await guard.succeeded(body.email, address)
    token, agent = result
    await state.desk.set_presence(agent.email, "online")
    return JSONResponse({"token": token, "agent": _agent(agent)})


@router.post("/logout")
async def logout(request: Request, agent: Agent) -> JSONResponse:
    """Ends this session; its console sockets, on any gateway, are closed (Accounts.logout
    publishes the end) and the agent shows offline."""
    state = get_state(request)
    await state.accounts.logout(request.headers["authorization"].partition(" ")[2].strip())
    await state.desk.set_presence(agent.email, "offline")
    return JSONResponse({"ok": True})


@router.get("/me")
async def me(request: Request, agent: Agent, lang: Literal["fr", "en"] | None = None) -> JSONResponse:
    """The agent, and whether the shop is open: after closing time chats are paused, and an
    agent marked online must be told why nothing arrives (`lang`: the console's language)."""
    from .agent_desk_api import openings

    state = get_state(request)
    services = state.action_services
    hours = openings(state)
    await hours.refresh()              # a manager may have opened chats on another gateway
    is_open = services.hours.is_open(services.clock())
    shop = {"open": is_open, "exception": await hours.today(),
            "can_open": agent.role in ("manager", "admin"),
            "next_opening": "" if is_open else services.next_opening(lang or agent.lang or "fr")}
    return JSONResponse({**_agent(agent), "presence": await state.desk.presence(agent.email),
                         "conversations": await state.desk.active(agent.email), "shop": shop,
                         "lang": agent.lang or None})   # None: the console follows the browser


@router.post("/language")
async def language(request: Request, body: Language, agent: Agent) -> JSONResponse:
    """The console's and dashboard's language for this account (fr | en), kept across logins."""
    try:
        await get_state(request).accounts.set_lang(agent.email, body.lang)
    except ValueError:   # AccountError: the account was removed since the token was checked
        raise AuthError() from None
    return JSONResponse({"lang": body.lang})


@router.post("/presence")
async def presence(request: Request, body: Presence, agent: Agent) -> JSONResponse:
    state = get_state(request)
    if body.status not in ("online", "away"):
        return error_response(422, "presence is online or away", key="presence_invalid")
    await state.desk.set_presence(agent.email, body.status)
    return JSONResponse({"presence": body.status})


@router.get("/agents")
async def agents(request: Request, agent: Agent) -> JSONResponse:
    """Colleagues to transfer a conversation to: e-mail, name, presence and load (no secrets)."""
    state = get_state(request)
    out = []
    for other in await state.accounts.list():
        out.append({**_agent(other), "presence": await state.desk.presence(other.email),
                    "active": len(await state.desk.active(other.email))})
    return JSONResponse({"agents": out})


@router.get("/queue")
async def queue(request: Request, agent: Agent) -> JSONResponse:
    state = get_state(request)
    waiting = await state.desk.queue()
    for item in waiting:
        conv = await state.transcripts.conversation(item["conversation_id"]) or {}
        item["channel"] = conv.get("channel", item.get("channel", ""))
        item["lang"] = conv.get("lang") or item.get("lang", "")
        item["subject"] = conv.get("subject", "")           # e-mail threads
        item["files"] = int(conv.get("files") or 0)         # what the shopper sent, on any channel
    return JSONResponse({"queue": waiting})


@router.post("/queue/claim")
async def claim_next(request: Request, agent: Agent) -> JSONResponse:
    """The oldest waiting conversation."""
    return await _claim(request, agent, "")


@router.post("/conversations/{cid}/claim")
async def claim(request: Request, cid: str, agent: Agent) -> JSONResponse:
    return await _claim(request, agent, cid)


async def _claim(request: Request, agent: Any, cid: str) -> JSONResponse:
    state = get_state(request)
    try:
        got = await state.desk.claim(agent.email, agent.max_conversations, cid)
    except DeskError as exc:
        return desk_error(exc)
    if got is None:
        return error_response(404, "nobody is waiting", key="queue_empty")
    await state.router.agent_joined(got, agent.email, agent.name)
    return JSONResponse({"conversation_id": got, "agent": agent.email})


@router.get("/conversations/{cid}")
async def conversation(request: Request, cid: str, agent: Agent, after: After = 0) -> JSONResponse:
    """The whole transcript (bot turns included), the request, and the customer's history."""
    state = get_state(request)
    conv = await state.transcripts.conversation(cid)
    if conv is None:
        return error_response(404, "unknown conversation", key="unknown_conversation")
    messages = await state.transcripts.history(cid, after=after, limit=5000)
    # the customer view on a full read only: the console polls new messages with `after`
    customer = await _customer(state, cid, conv, messages) if after == 0 else {}
    return JSONResponse({"conversation": conv, "handoff": await state.desk.handoff(cid),
                         "messages": [with_html(m.to_dict()) for m in messages],
                         "notes": await state.desk.notes(cid), **customer})


async def _customer(state: GatewayState, cid: str, conv: dict[str, Any],
                    messages: list[Any]) -> dict[str, Any]:
    """Who the customer is, across what we hold: their conversations on this channel, their
    tickets, the e-mail(s) those give, the conversations of the same e-mail on other channels,
    and the order numbers they typed (newest first, at most 3: the console shows their cards)."""
    from handoff.search import DeskSearch, conversation_hit

    own = await state.transcripts.customer_conversations(conv["channel"], conv["sender"])
    finder = DeskSearch(state.redis)
    recent = await finder.recent_tickets()
    tickets = [t for t in recent if t.get("conversation_id") in {cid, *own}]
    # an e-mail conversation's sender is an address too: their chats with a ticket under it join
    mailed = [conv["sender"].casefold()] if conv.get("channel") == "email" and conv.get("sender") else []
    emails = list(dict.fromkeys([*mailed, *(t["email"].casefold() for t in tickets if t.get("email"))]))
    related: dict[str, dict[str, Any]] = {}
    for email in emails[:3]:
        found = await finder.search(email)
        related.update((hit["id"], hit) for hit in found["conversations"])
        known = {t["id"] for t in tickets}
        tickets += [t for hit in found["tickets"] if hit["id"] not in known
                    and (t := await state.desk.ticket(hit["id"]))]
    for other in own:
        if other not in related and (found_conv := await state.transcripts.conversation(other)):
            related[other] = conversation_hit(other, dict(found_conv), "")
    past = sorted((c for c in related.values() if c["id"] != cid),
                  key=lambda c: -float(c.get("created_at") or 0))
    numbers = state.order_gate.numbers
    typed = [n for m in reversed(messages) if m.role == "shopper" and (n := numbers.find(m.text))]
    given = [t["order_number"] for t in tickets if t.get("order_number", "-") != "-"]
    return {"customer": {"emails": emails, "channel": conv.get("channel", ""), "lang": conv.get("lang", ""),
                         "first_name": conv.get("first_name", ""),
                         "channels": sorted({conv.get("channel", ""), *(c["channel"] for c in past)} - {""})},
            "past_conversations": [c["id"] for c in past], "past": past, "tickets": tickets,
            "order_numbers": list(dict.fromkeys([*typed, *given]))[:3]}


AGENT_LOOKUPS_PER_HOUR = 120   # an agent's account looking up orders in bulk is a stolen account


@router.get("/orders/{number}")
async def order(request: Request, number: str, agent: Agent,
                lang: Literal["fr", "en"] | None = None) -> JSONResponse:
    """An order as the console's card shows it: status, carrier, tracking link, expected day and
    the buyer's e-mail (to recognise the customer); never an address or a phone number. Agents
    need no proof of ownership, but their lookups are budgeted per account."""
    from shop.orders import describe
    from shop.sources import SourceError

    from .ratelimit import RateLimit

    state = get_state(request)
    normalised = state.order_gate.numbers.normalise(number)
    if normalised is None:
        return error_response(422, f"an order number looks like {state.order_gate.numbers.example}",
                              key="order_format", example=state.order_gate.numbers.example)
    budget = RateLimit(state.redis, AGENT_LOOKUPS_PER_HOUR, 3600)
    if not await budget.allow(f"agent-orders:{digest(agent.email)}"):
        return error_response(429, "too many order lookups from this account: try again later",
                              headers={"Retry-After": "600"}, key="order_lookups_limited")
    try:
        orders = await state.orders.lookup(normalised)
    except SourceError:
        return error_response(503, "the shop's order system does not answer", code="orders_unavailable",
                              key="orders_unavailable")
    if not orders:
        return error_response(404, f"no order {normalised}", key="unknown_order", number=normalised)
    today = state.action_services.hours.day_of(state.clock())
    cards = []
    for found in orders:
        said = describe(found, lang or agent.lang or "fr", today)   # the console's language
        cards.append({"number": found.number, "status": found.status, "status_label": said.status,
                      "late": said.late, "carrier": found.carrier, "tracking_url": found.tracking_url,
                      "eta": found.eta, "email": found.email})
    return JSONResponse({"orders": cards})


@router.post("/conversations/{cid}/messages")
async def send(request: Request, cid: str, body: Reply, agent: Agent) -> JSONResponse:
    state = get_state(request)
    if len(body.text) > MAX_TEXT_CHARS:
        return error_response(413, f"messages are limited to {MAX_TEXT_CHARS} characters",
                              key="text_too_long", limit=MAX_TEXT_CHARS)
    if not await _may_act(state, cid, agent):
        return error_response(403, "you do not hold this conversation", key="not_holder")
    try:
        message = await state.router.agent_says(cid, agent.email, body.text.strip())
    except UnknownConversation:
        return error_response(404, "unknown conversation", key="unknown_conversation")
    except DeliveryRefused as exc:
        return error_response(409, exc.reason, code="delivery_refused", key=exc.key or None)
    return JSONResponse({"message": message.to_dict()})


@router.post("/conversations/{cid}/transfer")
async def transfer(request: Request, cid: str, body: Transfer, agent: Agent) -> JSONResponse:
    state = get_state(request)
    target = None
    if body.to:
        target = await state.accounts.get(body.to)
        if target is None:
            return error_response(404, f"no agent {body.to}", key="unknown_agent", agent=body.to)
    try:
        await state.desk.transfer(cid, await _holder_for(state, cid, agent),
                                  target.email if target else None,
                                  target.max_conversations if target else 1_000_000)
    except DeskError as exc:
        return desk_error(exc)
    await state.transcripts.system(cid, "transferred", by=agent.email, to=target.email if target else "queue")
    await state.router.event("transferred", cid, await state.transcripts.require(cid))
    return JSONResponse({"conversation_id": cid, "to": target.email if target else "queue"})


class Close(BaseModel):
    reason: Literal["solved", "spam", "duplicate"] = "solved"


@router.post("/conversations/{cid}/close")
async def close(request: Request, cid: str, agent: Agent, body: Close | None = None) -> JSONResponse:
    """Gives the conversation back to the bot, filed as solved, spam or duplicate. The console
    waits 10 s before sending it (the agent's undo), so the shopper never sees a retracted close."""
    state = get_state(request)
    conv = await state.transcripts.conversation(cid)
    if conv is None:
        return error_response(404, "unknown conversation", key="unknown_conversation")
    try:
        await state.desk.close(cid, await _holder_for(state, cid, agent), reason=(body or Close()).reason)
    except DeskError as exc:
        return desk_error(exc)
    await state.router.closed(cid, agent.email)
    if conv.get("channel") == "email" and conv.get("ticket"):   # an e-mail thread is its ticket
        await state.desk.solve_ticket(conv["ticket"], agent.email)
    return JSONResponse({"conversation_id": cid, "state": "bot"})


@router.get("/tickets")
async def tickets(request: Request, agent: Agent, status: Literal["open", "pending"] | None = None,
                  assignee: str | None = Query(default=None, max_length=254,
                                               description="me, none, or an agent's e-mail")) -> JSONResponse:
    """Open and pending tickets, oldest first; `assignee` narrows to one agent's (or nobody's)."""
    state = get_state(request)
    items = await state.desk.tickets(status)
    if assignee is not None:
        wanted = agent.email if assignee == "me" else "" if assignee == "none" else assignee.casefold()
        items = [t for t in items if t.get("assignee", "") == wanted]
    for t in items:
        t["overdue"] = state.tickets.overdue(t)
    return JSONResponse({"tickets": items})


@router.post("/tickets", status_code=201)
async def create_ticket(request: Request, body: NewTicket, agent: Agent) -> JSONResponse:
    state = get_state(request)
    try:
        order_number = valid_order_number(body.order_number, state.order_gate.numbers)
    except ValueError as exc:   # the same shape as the schema's own validation errors
        return error_response(422, f"order_number: {exc}", key="order_format", errors=[
            {"field": "order_number", "in": "body", "message": str(exc)}])
    conv = await state.transcripts.conversation(body.conversation_id) if body.conversation_id else None
    if body.conversation_id and conv is None:
        return error_response(404, "unknown conversation", key="unknown_conversation")
    ticket = await state.tickets.open_ticket(
        conversation_id=body.conversation_id, channel=(conv or {}).get("channel", "agent"), email=body.email,
        order_number=order_number, message=body.message, lang=body.lang,
        reason=(conv or {}).get("reason", ""), source="agent",
        request_key=f"agent:{agent.email}:{body.conversation_id}:{digest(body.email, body.message)}")
    return JSONResponse(ticket, status_code=201)


@router.get("/tickets/{tid}")
async def ticket(request: Request, tid: str, agent: Agent) -> JSONResponse:
    state = get_state(request)
    found = await state.desk.ticket(tid)
    if found is None:
        return error_response(404, f"no ticket {tid}", key="unknown_ticket", ticket=tid)
    cid = found.get("conversation_id", "")
    messages = await state.transcripts.history(cid, limit=5000) if cid else []
    return JSONResponse({"ticket": {**found, "overdue": state.tickets.overdue(found)},
                         # no SMTP: the console says so before the agent writes a reply
                         "can_email": state.tickets.mailer is not None,
                         "replies": await state.desk.ticket_replies(tid),
                         "transcript": [with_html(m.to_dict()) for m in messages]})


@router.post("/tickets/{tid}/reply")
async def reply_ticket(request: Request, tid: str, body: Reply, agent: Agent) -> JSONResponse:
    state = get_state(request)
    try:
        updated = await state.tickets.reply(tid, agent.email, body.text.strip())
    except DeskError as exc:
        return desk_error(exc)
    return JSONResponse({"ticket": updated})


class ReasonChoice(BaseModel):
    reason: str = Field(min_length=1, max_length=120)


def _leaves(state: GatewayState) -> list[str]:
    """The taxonomy's leaves: what a ticket can be filed under."""
    service = state.index.faq()
    return [code for code, _ in (service.taxonomy() if service is not None else []) if "/" in code]


@router.get("/reasons")
async def reasons(request: Request, agent: Agent, lang: Literal["fr", "en"] | None = None) -> JSONResponse:
    """The contact reasons a ticket can be filed under, in the console's language."""
    from .help_catalogue import label

    return JSONResponse({"reasons": [{"code": code, "label": label(code, lang or agent.lang or "fr")}
                                     for code in _leaves(get_state(request))]})


@router.post("/tickets/{tid}/reason")
async def correct_reason(request: Request, tid: str, body: ReasonChoice, agent: Agent) -> JSONResponse:
    """An agent files the ticket under another reason (counted: how often the automatic one
    was wrong; the dashboard's matrix moves the ticket)."""
    state = get_state(request)
    if body.reason not in _leaves(state):
        why = "not a contact reason of the taxonomy"
        return error_response(422, f"reason: {why}", key="reason_unknown",
                              errors=[{"field": "reason", "in": "body", "message": why}])
    try:
        await state.desk.set_ticket_reason(tid, body.reason, agent.email)
    except DeskError as exc:
        return desk_error(exc)
    return JSONResponse({"ticket": await state.desk.ticket(tid)})


@router.post("/tickets/{tid}/solve")
async def solve_ticket(request: Request, tid: str, agent: Agent) -> JSONResponse:
    state = get_state(request)
    try:
        await state.desk.solve_ticket(tid, agent.email)
    except DeskError as exc:
        return desk_error(exc)
    return JSONResponse({"ticket": await state.desk.ticket(tid)})


async def _may_act(state: GatewayState, cid: str, agent: Any) -> bool:
    holder = await state.desk.holder(cid)
    return holder == agent.email or (agent.role == "admin" and bool(holder))


async def _holder_for(state: GatewayState, cid: str, agent: Any) -> str:
    """The agent acting: an admin acts on behalf of whoever holds the conversation."""
    holder = await state.desk.holder(cid)
    return holder if agent.role == "admin" and holder else agent.email


def _agent(agent: Any) -> dict[str, Any]:
    return {"email": agent.email, "name": agent.name, "role": agent.role,
            "max_conversations": agent.max_conversations}


def install_auth_handler(app: Any) -> None:
    @app.exception_handler(AuthError)
    async def _unauthorised(request: Request, exc: AuthError) -> JSONResponse:
        return error_response(401, "log in first: Authorization: Bearer <token>", key="login_required",
                              headers={"WWW-Authenticate": "Bearer"})
