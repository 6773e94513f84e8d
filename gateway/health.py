"""Liveness and readiness probes.

`/healthz` only proves the process serves HTTP (a supervisor restarts it when
it stops answering). `/readyz` says whether this replica can do useful work
now: Redis answers and the FAQ index is loaded; a load balancer sends it
traffic only then. Its body says which part is missing. Without any Rasa
server it is still ready (200) but `"status": "degraded"`: FAQ answers and
tickets go on from the index (conversation.degraded), dialogue does not.

Anyone may read the status (probes and load balancers need no secret); which part is
missing, the Rasa URLs, errors and model details are for operators: only with
`Authorization: Bearer <METRICS_TOKEN>`, the token that also opens `/metrics`.
"""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aioredis
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from .deps import get_state
from .metrics import operator

router = APIRouter()
NO_STORE = {"Cache-Control": "no-store"}


@router.get("/healthz")
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"}, headers=NO_STORE)


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    state = get_state(request)
    redis = await ping_redis(state.redis, state.settings.redis_ping_timeout)
    index = state.index.status()
    bot = await state.bot.status() if state.bot is not None else {"ok": False, "servers": {}}
    ready = bool(redis["ok"] and index["ready"])
    status = ("ready" if bot["ok"] else "degraded") if ready else "not_ready"
    body: dict[str, Any] = {"status": status}
    if operator(request):
        body |= {"redis": redis, "index": index, "rasa": bot}
    return JSONResponse(body, status_code=200 if ready else 503, headers=NO_STORE)


async def ping_redis(client: aioredis.Redis | None, timeout: float) -> dict[str, Any]:
    """`{"ok": bool, "error": str | None}`; never raises, never waits longer than `timeout`."""
    if client is None:
        return {"ok": False, "error": "not connected (the app is not started)"}
    try:
        await asyncio.wait_for(client.ping(), timeout)
    except TimeoutError:
        return {"ok": False, "error": f"PING got no answer within {timeout:g} s"}
    except (aioredis.RedisError, OSError) as exc:
        return {"ok": False, "error": str(exc) or type(exc).__name__}
    return {"ok": True, "error": None}
