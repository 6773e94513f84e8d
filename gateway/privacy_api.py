"""GDPR requests for admins: `GET /api/admin/privacy/export?email=` (everything held about a
customer, as JSON) and `POST /api/admin/privacy/erase {"email": ...}` (delete it all). The same
as `python -m handoff gdpr export|erase`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from .agent_api import Agent
from .deps import get_state
from .errors import error_response

router = APIRouter(prefix="/api/admin/privacy")


class ErasureRequest(BaseModel):
    email: str = Field(default="", max_length=254)   # checked after the role: no hints to strangers


def _valid(email: str) -> bool:
    return 3 <= len(email) <= 254 and "@" in email


@router.get("/export")
async def export(request: Request, agent: Agent, email: str = "") -> JSONResponse:
    if agent.role != "admin":
        return error_response(403, "personal data requests are for admins")
    if not _valid(email):
        return error_response(422, "email must be an e-mail address")
    data = await get_state(request).privacy.export(email)
    return JSONResponse(data, headers={"Cache-Control": "no-store"})


@router.post("/erase")
async def erase(request: Request, agent: Agent, body: ErasureRequest | None = None) -> JSONResponse:
    if agent.role != "admin":
        return error_response(403, "personal data requests are for admins")
    if body is None or not _valid(body.email):
        return error_response(422, "email must be an e-mail address")
    counts = await get_state(request).privacy.erase(body.email)
    return JSONResponse({"erased": counts})
