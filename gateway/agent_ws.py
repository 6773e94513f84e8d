"""`WS /ws/agent`: the console's live feed (queue changes, new messages in conversations).

The browser cannot set an Authorization header on a WebSocket, so the first frame carries
the token: `{"type": "auth", "token": "..."}`; nothing is sent before it is checked. Events
come from Redis pub/sub, so an agent on one gateway sees what arrives through another.

A socket lives no longer than its session: the token is checked again on every frame, at most
RECHECK_S apart before relaying events, and at once when any process (a gateway's logout, the
CLI's `passwd` or `remove`) announces on SESSIONS_ENDED that this agent's sessions ended. A dead
session gets an error frame and close code 4401, sees no further event and never heartbeats.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from kit.keys import EVENTS, SESSIONS_ENDED

from .agent_api import DESK_EXCLUDED_ROLES
from .channels.web import FrameError, load_frame
from .deps import GatewayState
from .feeds import relay
from .typing_signals import Refused

router = APIRouter()
AUTH_TIMEOUT_S = 10
RECHECK_S = 1.0     # events are relayed at most this long after a session ended without notice
UNAUTHORIZED = 4401


class AgentSession:
    """One authenticated console socket and the session token it was opened with."""

    def __init__(self, state: GatewayState, ws: WebSocket, token: str, email: str) -> None:
        self.state, self.ws, self.token, self.email = state, ws, token, email
        self.ended = asyncio.Event()
        self.ready = False            # events before "ready" are dropped: the console reloads on it
        self._checked = time.monotonic()

    async def alive(self, *, force: bool = False) -> bool:
        """False once the session is gone (logged out, expired, password changed, removed)."""
        if self.ended.is_set():
            return False
        if force or time.monotonic() - self._checked >= RECHECK_S:
            agent = await self.state.accounts.agent_for_token(self.token)
            self._checked = time.monotonic()
            if agent is None or agent.email != self.email:
                self.ended.set()
                return False
        return True

    async def event(self, data: bytes | str) -> None:
        """A console event from pub/sub, passed on only while the session lives."""
        if self.ready and await self.alive():
            await self.ws.send_text(data.decode() if isinstance(data, bytes) else data)

    async def sessions_ended(self, data: bytes | str) -> None:
        """Some process ended sessions of an agent: if this one's, check the token now."""
        with contextlib.suppress(ValueError, AttributeError):
            if json.loads(data).get("email") == self.email:
                await self.alive(force=True)

    async def frames(self) -> None:
        """Reads the console's frames until the socket or the session ends; pings keep the
        agent's presence alive, but only a live session's; typing signals go to the shopper
        (gateway/typing_signals.py). Anything else is ignored, as before."""
        desk = self.state.desk
        while True:
            raw = await self.ws.receive_text()
            if not await self.alive(force=True):
                return
            try:
                frame = load_frame(raw)
            except FrameError as exc:
                await self.ws.send_json({"type": "error", "status": exc.status, "message": exc.message})
                continue
            if frame.get("type") == "ping":
                await desk.heartbeat(self.email)
                if not await self.alive(force=True):  # logged out during the heartbeat: undo it
                    await desk.set_presence(self.email, "offline")
                    return
                await self.ws.send_json({"type": "pong"})
            elif frame.get("type") == "typing":
                await self.typing(frame)

    async def typing(self, frame: dict[str, Any]) -> None:
        """The agent types (or stopped) in a conversation: relayed if they hold it, else an
        error frame naming the conversation (the console keeps its socket)."""
        agent = await self.state.accounts.agent_for_token(self.token)
        if agent is None or agent.email != self.email:
            self.ended.set()
            return
        try:
            await self.state.typing.from_agent(agent, frame)
        except Refused as exc:
            cid = frame.get("conversation_id")
            named = {"conversation_id": cid} if isinstance(cid, str) and len(cid) <= 64 else {}
            await self.ws.send_json(exc.frame(**named))


@router.websocket("/ws/agent")
async def agent_feed(ws: WebSocket) -> None:
    state: GatewayState = ws.app.state.gateway
    await ws.accept()
    token, agent = await _authenticate(state, ws)
    if agent is None:
        await _refuse(ws, "send {\"type\": \"auth\", \"token\": ...} first")
        return
    if agent.role in DESK_EXCLUDED_ROLES:     # an editor's login never sees the desk's events
        await _refuse(ws, "the agent console is not for this account's role")
        return
    session = AgentSession(state, ws, token, agent.email)
    async with relay(state.feeds, SESSIONS_ENDED, session.sessions_ended), \
            relay(state.feeds, EVENTS, session.event):
        # subscribed first, then checked again: a logout in between cannot go unnoticed
        if not await session.alive(force=True):
            await _refuse(ws, "session ended: sign in again")
            return
        await state.desk.heartbeat(agent.email)
        await ws.send_json({"type": "ready", "agent": agent.email})
        session.ready = True
        await _serve(session)
    if session.ended.is_set():
        await _refuse(ws, "session ended: sign in again")


async def _authenticate(state: GatewayState, ws: WebSocket) -> tuple[str, Any]:
    """(token, agent) from the first frame; agent None if missing, late or invalid."""
    try:
        first = load_frame(await asyncio.wait_for(ws.receive_text(), AUTH_TIMEOUT_S))
        token = first.get("token", "") if first.get("type") == "auth" else ""
        if isinstance(token, str) and token:
            return token, await state.accounts.agent_for_token(token)
    except (TimeoutError, FrameError, WebSocketDisconnect, KeyError):
        pass
    return "", None


async def _serve(session: AgentSession) -> None:
    """Until the console leaves or its session ends, whichever comes first."""
    frames = asyncio.create_task(session.frames())
    ended = asyncio.create_task(session.ended.wait())
    try:
        await asyncio.wait({frames, ended}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (frames, ended):
            task.cancel()
        # wait() never re-raises the tasks' own errors (gather would turn a cancellation of this
        # handler into a child's CancelledError, which the server's cancel scope cannot recognise)
        await asyncio.wait({frames, ended})
        for task in (frames, ended):
            if not task.cancelled():
                task.exception()   # retrieved: a disconnect is the normal end


async def _refuse(ws: WebSocket, message: str) -> None:
    with contextlib.suppress(Exception):
        await ws.send_json({"type": "error", "status": 401, "error": "unauthorized", "message": message})
        await ws.close(code=UNAUTHORIZED)
