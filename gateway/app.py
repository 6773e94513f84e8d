"""The ASGI app: `uvicorn gateway.app:app`; tests call `create_app()`.

Importing this module only reads settings: the FAQ index loads in a
background thread once the server starts, so `/healthz` answers at once and
`/readyz` turns 200 when Redis and the index are both there.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis
from fastapi import FastAPI
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from starlette.concurrency import run_in_threadpool

from kit import texts
from kit.keys import PURGE_LOCK
from kit.redis import redact_url

from . import (
    actions,
    agent_api,
    agent_desk_api,
    agent_mail_api,
    agent_ws,
    analytics_api,
    attachments_api,
    editor_api,
    health,
    help_centre,
    mail_api,
    metrics,
    pages,
    privacy_api,
    search,
    survey_page,
    texts_api,
)
from .channels import messenger, web, whatsapp
from .deps import GatewayState
from .errors import UnhandledErrorMiddleware, install_error_handlers
from .feeds import FeedHub
from .index_loader import IndexLoader
from .limits import DEFAULT_OVERRIDES, BodySizeLimitMiddleware, query_token_is
from .logs import configure_logging
from .metrics import Metrics
from .observe import RequestTelemetryMiddleware
from .security import SecurityHeadersMiddleware, add_cors
from .settings import Settings

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
    for router in (health.router, metrics.router, search.router, actions.router, web.router,
                   agent_api.router, agent_desk_api.router, agent_ws.router, analytics_api.router,
                   messenger.router, whatsapp.router, pages.router, help_centre.router, survey_page.router,
                   privacy_api.router, texts_api.router, attachments_api.router, mail_api.router,
                   agent_mail_api.router, editor_api.router):
        app.include_router(router)
    pages.mount_static(app)
    agent_api.install_auth_handler(app)
    # Added innermost first: telemetry sees every response, including 413s and 500s.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes, overrides=(
        (mail_api.PATH, mail_api.MAX_BYTES),   # before "/webhooks/": a mail carries its attachments
        *DEFAULT_OVERRIDES,
        (attachments_api.UPLOAD_PATH, attachments_api.body_limit(settings.attachment_max_bytes))),
        grants=(("/webhook", RASA_ACTION_BYTES, query_token_is(settings.action_token)),))
    add_cors(app, settings.widget_origins)
    app.add_middleware(UnhandledErrorMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(RequestTelemetryMiddleware, metrics=state.metrics)
    return app


def _degraded_mode(state: GatewayState) -> Any:
    """FAQ answers straight from the loaded index, and tickets, while no Rasa server answers."""
    from conversation.degraded import DegradedMode

    return DegradedMode(state.index.faq, lambda: state.tickets, state.transcripts.update,
                        recorder=state.recorder)


def _service_factory(settings: Settings) -> Callable[[], RetrievalService]:
    def build() -> RetrievalService:
        from retrieval.service import RetrievalService  # seconds to import: done in the loader thread

        return RetrievalService(settings.kb_dir, cache_root=settings.index_dir, watch=True)

    return build


def make_clock(start: datetime | None) -> Callable[[], datetime]:
    """Real time, or time flowing from CLOCK_START (demos and tests of out-of-hours flows)."""
    if start is None:
        return lambda: datetime.now(UTC)
    origin = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - origin)


def _wire(state: GatewayState) -> None:
    """The help desk, conversations, channels and the bot's custom actions, on one Redis."""
    from analytics.log import EventLog
    from analytics.recorder import Recorder
    from bot.actions import executor
    from bot.actions.services import Services
    from conversation.faq import reason_of
    from conversation.router import ConversationRouter
    from conversation.transcript import Transcripts
    from handoff.accounts import Accounts
    from handoff.attachments import AttachmentStore, Limits
    from handoff.desk import HelpDesk
    from handoff.mailer import Mailer, MailSettings
    from handoff.privacy import Privacy
    from handoff.survey_links import SurveyLinks
    from handoff.tickets import Tickets
    from kit.dates import preload as preload_dates
    from retrieval.text import shared_detector
    from shop.config import load_shop_config
    from shop.hours import BusinessHours
    from shop.sources import build_source

    from .channels.graph import GraphClient
    from .channels.messenger import MessengerSender
    from .channels.meta import MetaSettings
    from .channels.whatsapp import WhatsAppSender
    from .rasa_client import RasaClient
    from .ratelimit import ChatLimits
    from .typing_signals import TypingSignals

    settings = state.settings
    state.shop = load_shop_config(settings.shop_config)
    hours = BusinessHours.from_shop_config(state.shop)
    preload_dates()
    state.clock = make_clock(settings.clock_start)
    if settings.clock_start is not None:
        log.warning("CLOCK_START is set: opening hours and ticket deadlines use a moved clock",
                    extra={"clock_start": settings.clock_start.isoformat()})
    detector = shared_detector(("fr", "en"))   # the retriever's too: one model, one cache
    state.recorder = Recorder(EventLog(state.redis, hours=hours, secret=settings.analytics_secret),
                              on_event=state.metrics.event)
    state.desk = HelpDesk(state.redis, state.recorder)
    state.transcripts = Transcripts(state.redis)
    state.accounts = Accounts(state.redis)
    state.attachments = AttachmentStore(state.redis, settings.attachments_dir, Limits(
        max_bytes=settings.attachment_max_bytes, max_count=settings.attachment_max_count,
        max_total_bytes=settings.attachment_max_total))
    state.privacy = Privacy(state.redis, analytics_secret=settings.analytics_secret,
                            attachments=state.attachments)
    state.feeds = FeedHub(state.redis)
    state.survey_links = (SurveyLinks(settings.survey_secret, settings.public_url,
                                      days=state.shop.surveys.nps_link_days)
                          if settings.survey_secret and settings.public_url else None)
    mail = MailSettings.from_env()
    state.tickets = Tickets(state.desk, hours, clock=state.clock, sla_hours=hours.sla_hours or 8,
                            mailer=Mailer(mail) if mail.enabled else None, recorder=state.recorder,
                            survey_links=state.survey_links, shop_name=state.shop.shop.name,
                            classify=lambda text, lang: reason_of(state.index.faq(), text, lang))
    state.rate_limit = ChatLimits(state.redis, settings, secret=settings.analytics_secret)
    state.meta = MetaSettings.from_env()
    if state.meta.messenger_enabled or state.meta.whatsapp_enabled:
        state.graph = GraphClient(state.meta)
    if state.meta.messenger_enabled:
        state.senders["messenger"] = MessengerSender(state.graph, state.meta)
    if state.meta.whatsapp_enabled:
        state.senders["whatsapp"] = WhatsAppSender(state.graph, state.meta)

    # the shop's orders (demo file, PrestaShop, Shopify, WooCommerce: config/shop.yml `orders`)
    state.orders = build_source(state.shop.orders, demo_file=str(settings.orders_file))
    state.order_gate = _order_gate(state, state.orders)
    state.bot = RasaClient(settings.rasa_url, settings.rasa_token,
                           find_order=state.order_gate.numbers.find_marked)
    state.typing = TypingSignals(state.redis, state.transcripts, state.desk, state.senders)
    state.router = ConversationRouter(state.redis, state.transcripts, state.desk, state.bot, state.senders,
                                      detector=detector, recorder=state.recorder, surveys=state.shop.surveys,
                                      degraded=_degraded_mode(state), metrics=state.metrics)
    state.action_services = Services(
        retriever=state.index.faq,
        hours=hours, desk=state.desk, order_gate=state.order_gate,
        sla_hours=hours.sla_hours or 8, order_offer=state.shop.order_lookups.offered_after,
        clock=state.clock, recorder=state.recorder,
        client_of=state.transcripts.client_of, ticket_wait=state.rate_limit.ticket)
    state.actions = executor(state.action_services)
    _wire_mail(state, detector, mail)


def _wire_mail(state: GatewayState, detector: Any, smtp: Any) -> None:
    """The e-mail channel (mail/), when MAIL_SECRET and a way in (IMAP_URL, a provider's webhook)
    are set: the same transcripts, queue, tickets and analytics as the other channels."""
    from conversation.language import message_language
    from handoff.mailer import Mailer
    from mail.ingest import MailIngest
    from mail.originals import MailOriginals
    from mail.outbound import EmailSender
    from mail.rules import DailyCap
    from mail.settings import MailChannelSettings
    from mail.threads import ThreadKeys

    state.mail = MailChannelSettings.from_env()
    # shown, erased and exported with their conversation, even once the channel is switched off
    state.mail_originals = MailOriginals(state.mail.folder / "originals")
    state.privacy.mail_originals = state.mail_originals
    if not state.mail.enabled:
        return
    mailer = state.tickets.mailer or Mailer(smtp)   # SMTP_URL's, parsed once in _wire
    if not mailer.enabled:
        log.warning("e-mail channel without SMTP_URL: mails come in, nothing goes out")
    keys = ThreadKeys(state.mail.secret.encode(), state.mail.address)
    public = state.settings.public_url.rstrip("/")

    async def search(text: str, lang: str) -> Any:
        service = state.index.faq()
        return None if service is None else await asyncio.to_thread(service.search, text, lang, 3)

    state.mail_ingest = MailIngest(
        redis=state.redis, transcripts=state.transcripts, router=state.router, desk=state.desk,
        tickets=state.tickets, search=search, attachments=state.attachments, keys=keys, mailer=mailer,
        cap=DailyCap(state.redis, secret=state.settings.analytics_secret.encode(),
                     limit=state.mail.replies_per_day),
        detect_lang=lambda text: message_language(detector, text),
        quarantine=state.mail.folder / "quarantine", originals=state.mail_originals,
        help_url=(lambda lang, entry: f"{public}/help/{lang}/{entry}") if public else None,
        own_addresses=(smtp.sender_address,))
    state.senders["email"] = EmailSender(mailer, keys, state.transcripts, survey_links=state.survey_links,
                                         shop_name=state.shop.shop.name, on_mailed=state.tickets.record_reply)
    async def reply_by_mail(ticket: dict[str, str], agent_id: str, body: str) -> str | None:
        """An e-mail ticket's answer leaves as the conversation's threaded reply, in its transcript."""
        cid = ticket.get("conversation_id", "")
        if ticket.get("channel") != "email" or not cid or await state.transcripts.conversation(cid) is None:
            return None
        return (await state.router.agent_says(cid, agent_id, body)).message_id

    state.tickets.reply_via = reply_by_mail
    if state.mail.imap_url:
        from mail.imap_reader import ImapReader
        from mail.imap_settings import ImapSettings

        ingest = state.mail_ingest

        async def on_message(uid: int, uidvalidity: int, raw: bytes) -> None:
            await ingest.receive(raw, source="imap")

        async def on_poison(uid: int, raw: bytes, error: BaseException) -> None:
            ingest.quarantine(raw, f"IMAP UID {uid}: {error}", "imap")

        # one reader at a time across gateways (a Redis lease); started in the lifespan
        state.mail_reader = ImapReader(state.redis, ImapSettings.from_env(), on_message, on_poison=on_poison)


def _order_gate(state: GatewayState, source: Any) -> Any:
    """Orders only for their owner, within the shop's lookup budgets (config/shop.yml)."""
    from shop.order_gate import OrderGate

    from .ratelimit import RateLimit

    budget = state.shop.order_lookups
    window = budget.window_minutes * 60
    return OrderGate(source, per_conversation=RateLimit(state.redis, budget.per_conversation, window),
                     per_client=RateLimit(state.redis, budget.per_client, window),
                     per_order=RateLimit(state.redis, budget.per_order, window))


def redis_client(url: str) -> aioredis.Redis:
    """Short timeouts and few retries: a dead Redis must fail requests fast, not hang them."""
    # A blocking pool: under a burst, a command waits (up to 10 s) for one of 200 connections
    # instead of failing with "Too many connections"; sockets share one pub/sub (FeedHub).
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=REDIS_CONNECTIONS, timeout=10, socket_connect_timeout=2.0, socket_timeout=5.0,
        health_check_interval=30, retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
    )  # fmt: skip
    return aioredis.Redis(connection_pool=pool)


REDIS_CONNECTIONS = 200
RASA_ACTION_BYTES = 16 * 1024 * 1024   # Rasa's action calls carry the whole tracker (token-checked)


SWEEP_S = 5.0


def all_routes(app: FastAPI) -> list[Any]:
    """Every route of the app, through included routers (FastAPI includes them lazily), so that
    tests can enumerate them: a new route cannot be forgotten by the security tests."""
    def walk(routes: list[Any]) -> list[Any]:
        out = []
        for route in routes:
            out += walk(route.original_router.routes) if hasattr(route, "original_router") else [route]
        return out
    return walk(list(app.routes))


async def _sweep_forever(state: GatewayState) -> None:
    """Route what a crashed gateway acknowledged but never routed (its lock expires in 15 s)."""
    while True:
        await asyncio.sleep(SWEEP_S)
        try:
            await state.router.sweep()
            await agent_desk_api.openings(state).refresh()   # chats a manager opened on any gateway
        except Exception as exc:  # Redis down: the next sweep retries
            log.warning("pending sweep failed", extra={"error": str(exc) or type(exc).__name__})


PURGE_EVERY_S = 6 * 3600


async def _purge_forever(state: GatewayState) -> None:
    """Enforce the retention periods of config/shop.yml; one gateway at a time (Redis lock)."""

    await asyncio.sleep(60)
    while True:
        try:
            if await state.redis.set(PURGE_LOCK, "1", nx=True, ex=PURGE_EVERY_S - 60):
                counts = await state.privacy.purge(state.shop.retention)
                log.info("retention purge", extra=counts)
        except Exception as exc:
            log.warning("retention purge failed", extra={"error": str(exc) or type(exc).__name__})
        await asyncio.sleep(PURGE_EVERY_S)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    state: GatewayState = app.state.gateway
    state.redis = redis_client(state.settings.redis_url)  # connects lazily: a down Redis only fails /readyz
    state.index.start()
    await run_in_threadpool(texts.preload)
    _wire(state)
    log.info(
        "gateway started",
        extra={
            "redis_url": redact_url(state.settings.redis_url),
            "kb_dir": str(state.settings.kb_dir),
            "widget_origins": list(state.settings.widget_origins),
        },
    )
    sweeper = asyncio.create_task(_sweep_forever(state))
    purger = asyncio.create_task(_purge_forever(state))
    reader = asyncio.create_task(state.mail_reader.run()) if state.mail_reader is not None else None
    try:
        yield
    finally:
        sweeper.cancel()
        purger.cancel()
        if reader is not None:
            await state.mail_reader.stop()   # hands the mailbox to another gateway at once
            reader.cancel()
        await state.feeds.aclose()
        await state.router.idle(timeout=10)  # finish the bot turns in flight
        await state.recorder.flush()
        await state.bot.aclose()
        if state.graph is not None:
            await state.graph.aclose()
        if (close := getattr(state.orders, "aclose", None)) is not None:
            await close()
        await run_in_threadpool(state.index.stop)
        await state.redis.aclose()
        state.redis = None
        log.info("gateway stopped")


app = create_app()
