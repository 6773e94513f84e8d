"""`WS /ws/agent`: the console's live feed (queue changes, new messages in conversations).

The browser cannot set an Authorization header on a WebSocket, so the first frame carries
the token: `{"type": "auth", "token": "..."}`; nothing is sent before it is checked. Events
come from Redis pub/sub, so an agent on one gateway sees what arrives through another.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from handoff.store import EVENTS

from .feeds import relay
from .state import GatewayState

router = APIRouter()
AUTH_TIMEOUT_S = 10


@router.websocket("/ws/agent")
async def agent_feed(ws: WebSocket) -> None:
    state: GatewayState = ws.app.state.gateway
    await ws.accept()
    try:
        first = json.loads(await asyncio.wait_for(ws.receive_text(), AUTH_TIMEOUT_S))
        token = first.get("token", "") if isinstance(first, dict) and first.get("type") == "auth" else ""
        agent = await state.accounts.agent_for_token(token) if isinstance(token, str) and token else None
    except (TimeoutError, ValueError, WebSocketDisconnect, KeyError):
        agent = None
    if agent is None:
        with contextlib.suppress(Exception):
            await ws.send_json({"type": "error", "status": 401, "error": "unauthorized",
                                "message": "send {\"type\": \"auth\", \"token\": ...} first"})
            await ws.close(code=4401)
        return
    await state.desk.heartbeat(agent.email)
    await ws.send_json({"type": "ready", "agent": agent.email})

    async def deliver(data: bytes | str) -> None:
        await ws.send_text(data.decode() if isinstance(data, bytes) else data)

    try:
        async with relay(state.feeds, EVENTS, deliver):
            while True:  # pings keep the agent's presence alive
                frame = await ws.receive_text()
                if '"ping"' in frame:
                    await state.desk.heartbeat(agent.email)
                    await ws.send_json({"type": "pong"})
    except WebSocketDisconnect:
        pass
