"""`GET /api/search`: the FAQ search API (widget suggestions, tools, debugging).

The engine is synchronous and CPU-bound (embedding + scoring), so it runs in
the threadpool: the event loop keeps serving websockets and probes meanwhile.
"""

from __future__ import annotations

import logging
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from .deps import get_state
from .errors import error_response

log = logging.getLogger("gateway.search")
router = APIRouter()

MAX_QUERY_CHARS = 1000  # the engine truncates beyond this; we refuse instead of silently cutting
MAX_K = 10
Lang = Literal["fr", "en"]  # the KB languages; widen together with retrieval.kb.SUPPORTED_LANGS


@router.get("/api/search")
async def search(
    request: Request,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=MAX_QUERY_CHARS,
            description="The shopper's question, 1 to 1000 characters.",
        ),
    ],
    lang: Annotated[Lang | None, Query(description="Language hint (e.g. the widget's).")] = None,
    k: Annotated[int, Query(ge=1, le=MAX_K, description="How many entries to return.")] = 3,
    context: Annotated[
        str | None,
        Query(
            max_length=MAX_QUERY_CHARS,
            description="The conversation's previous FAQ question, or its entry id, up to 1000 "
            "characters. Used only when `q` alone is weak (band not `answer`), to read a short "
            "follow-up such as \"and for Switzerland?\"; `context_used` says whether it was.",
        ),
    ] = None,
) -> JSONResponse:
    """Best FAQ entries for `q` with a confidence band (`answer`, `suggest`, `none`).

    With `context`, a weak follow-up is searched again together with the previous question
    and that result is kept when it is more confident (`context_used: true`); a question that
    is strong on its own is never changed by its context.
    """
    if not q.strip():
        return error_response(
            422,
            "q: must contain some text",
            errors=[{"field": "q", "in": "query", "message": "must contain some text"}],
        )
    state = get_state(request)
    service = state.index.faq()
    if service is None:
        return error_response(
            503,
            "The FAQ index is still loading; retry in a few seconds.",
            code="index_not_ready",
            headers={"Retry-After": "5"},
        )
    start = time.perf_counter()
    result = await run_in_threadpool(service.search, q, lang, k, (context or "").strip() or None)
    state.metrics.search_duration.observe(time.perf_counter() - start)
    state.metrics.searches.labels(result.band, result.lang or "none").inc()
    body: dict[str, Any] = result.to_dict()
    body["score"] = result.best.score if result.best else None
    log.info("search", extra={
        "q_len": len(q), "lang_hint": lang, "query_lang": result.query_lang, "lang": result.lang,
        "band": result.band, "top_id": result.best.id if result.best else None,
        "score": body["score"], "fallback": result.fallback, "took_ms": result.took_ms,
        "context_len": len(context or ""), "context_used": result.context_used,
    })  # fmt: skip
    return JSONResponse(body)
