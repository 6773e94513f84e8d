"""`POST /webhook`: Rasa's custom actions, run in the gateway next to the retriever.

Rasa calls this with `?token=` (its action_endpoint token); the token is compared in
constant time, and an unset ACTION_TOKEN disables the route rather than leaving it open.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from rasa_sdk.interfaces import (
    ActionExecutionRejection,
    ActionMissingDomainException,
    ActionNotFoundException,
)

from .deps import get_state
from .errors import error_response

log = logging.getLogger("gateway.actions")
router = APIRouter()


@router.post("/webhook")
async def run_action(request: Request) -> JSONResponse:
    state = get_state(request)
    expected = state.settings.action_token
    if not expected:
        return error_response(503, "custom actions are disabled (ACTION_TOKEN is not set)")
    given = request.query_params.get("token", "")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return error_response(401, "invalid action token")
    try:
        call: Any = await request.json()
    except ValueError:
        return error_response(400, "the body must be a JSON action call")
    if not isinstance(call, dict) or not call.get("next_action") or not isinstance(call.get("tracker"), dict):
        return error_response(400, "an action call needs next_action and tracker")
    # Rasa sends the domain only to the actions that declare `send_domain` (the form validators,
    # bot/domain.yml); the others never read it, and an absent one would be refused by rasa_sdk
    call.setdefault("domain", {})
    executor = state.actions
    if executor is None:
        return error_response(503, "actions are starting", headers={"Retry-After": "2"})
    try:
        result = await executor.run(call)
    except ActionExecutionRejection as exc:  # a form slot was not filled: Rasa asks another policy
        return JSONResponse({"error": exc.message, "action_name": exc.action_name}, status_code=400)
    except ActionNotFoundException as exc:
        return JSONResponse({"error": exc.message, "action_name": exc.action_name}, status_code=404)
    except ActionMissingDomainException as exc:
        return JSONResponse({"error": exc.message, "action_name": exc.action_name}, status_code=449)
    log.info("action run", extra={"action": call.get("next_action"),
                                  "conversation": call.get("sender_id")})
    return JSONResponse(result.model_dump() if result else {"events": [], "responses": []})
