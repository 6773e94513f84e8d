"""The ASGI app: `uvicorn gateway.app:app`; tests call `create_app()`.

Importing this module only reads settings: the FAQ index loads in a
background thread once the server starts, so `/healthz` answers at once and
`/readyz` turns 200 when Redis and the index are both there.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import redis.asyncio as aioredis
from fastapi import FastAPI
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from starlette.concurrency import run_in_threadpool

from . import actions, health, metrics, search
from .errors import UnhandledErrorMiddleware, install_error_handlers
from .index_loader import IndexLoader
from .limits import BodySizeLimitMiddleware
from .logs import configure_logging
from .metrics import Metrics
from .observe import RequestTelemetryMiddleware
from .security import SecurityHeadersMiddleware, add_cors
from .settings import Settings, redact
from .state import GatewayState

if TYPE_CHECKING:
    from retrieval.service import RetrievalService

log = logging.getLogger("gateway")


def create_app(settings: Settings | None = None, retrieval: RetrievalService | None = None) -> FastAPI:
    """A gateway app. `retrieval`: a service to use instead of one built from `settings`;
    if it is already started the caller keeps ownership (it is not restarted or stopped)."""
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level)
    if retrieval is not None:
        index = IndexLoader.for_service(retrieval)
    else:
        index = IndexLoader(_service_factory(settings))
    state = GatewayState(settings=settings, index=index, metrics=Metrics(index.status))

    app = FastAPI(title="Shop support gateway", lifespan=_lifespan, docs_url=None, redoc_url=None)
    app.state.gateway = state
    install_error_handlers(app)
    for router in (health.router, metrics.router, search.router, actions.router):
        app.include_router(router)
    # Added innermost first: telemetry sees every response, including 413s and 500s.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    add_cors(app, settings.widget_origins)
    app.add_middleware(UnhandledErrorMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(RequestTelemetryMiddleware, metrics=state.metrics)
    return app


def _service_factory(settings: Settings) -> Callable[[], RetrievalService]:
    def build() -> RetrievalService:
        from retrieval.service import RetrievalService  # seconds to import: done in the loader thread

        return RetrievalService(settings.kb_dir, cache_root=settings.index_dir, watch=True)

    return build


def _action_executor(state: GatewayState):
    """The bot's custom actions, bound to this gateway's retriever, calendar, desk and orders."""
    from bot.actions import executor
    from bot.actions.services import Services
    from handoff.desk import HelpDesk
    from handoff.hours import from_config
    from retrieval.text import LanguageDetector
    from shop.orders import DemoOrderSource

    hours = from_config(state.settings.shop_config)
    state.action_services = Services(
        retriever=lambda: state.index.service if state.index.ready else None,
        hours=hours, desk=HelpDesk(state.redis), orders=DemoOrderSource(state.settings.orders_file),
        detector=LanguageDetector(["fr", "en"]), sla_hours=hours.sla_hours or 8)
    return executor(state.action_services)


def redis_client(url: str) -> aioredis.Redis:
    """Short timeouts and few retries: a dead Redis must fail requests fast, not hang them."""
    return aioredis.Redis.from_url(
        url, socket_connect_timeout=2.0, socket_timeout=5.0, health_check_interval=30,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
    )  # fmt: skip


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    state: GatewayState = app.state.gateway
    state.redis = redis_client(state.settings.redis_url)  # connects lazily: a down Redis only fails /readyz
    state.index.start()
    state.actions = _action_executor(state)
    log.info(
        "gateway started",
        extra={
            "redis_url": redact(state.settings.redis_url),
            "kb_dir": str(state.settings.kb_dir),
            "widget_origins": list(state.settings.widget_origins),
        },
    )
    try:
        yield
    finally:
        await run_in_threadpool(state.index.stop)
        await state.redis.aclose()
        state.redis = None
        log.info("gateway stopped")


app = create_app()
