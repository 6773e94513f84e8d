"""What the routes share, stored on `app.state.gateway` (no module globals, so many apps can
coexist), with the types the routes can rely on. Built in `gateway.app`'s lifespan."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis
from fastapi import Request

from .index_loader import IndexLoader
from .metrics import Metrics
from .settings import Settings

if TYPE_CHECKING:
    from analytics.recorder import Recorder
    from bot.actions.services import Services
    from conversation.ports import Inbox, Sender
    from conversation.router import ConversationRouter
    from conversation.transcript import Transcripts
    from handoff.accounts import Accounts
    from handoff.attachments import AttachmentStore
    from handoff.desk import HelpDesk
    from handoff.privacy import Privacy
    from handoff.survey_links import SurveyLinks
    from handoff.tickets import Tickets
    from shop.config import ShopConfig
    from shop.order_gate import OrderGate
    from shop.sources import OrderSource

    from .channels.graph import GraphClient
    from .channels.meta import MetaSettings
    from .feeds import FeedHub
    from .rasa_client import RasaClient
    from .ratelimit import ChatLimits
    from .typing_signals import TypingSignals


@dataclass
class GatewayState:
    settings: Settings
    index: IndexLoader
    metrics: Metrics
    redis: aioredis.Redis | None = None          # created in the lifespan, on the server's event loop
    actions: Any = None                          # rasa_sdk's ActionExecutor (untyped library)
    action_services: Services | None = None      # what the custom actions use
    orders: OrderSource | None = None            # the shop's orders (config/shop.yml `orders`)
    order_gate: OrderGate | None = None          # ... read only through the ownership gate
    meta: MetaSettings | None = None             # Messenger / WhatsApp settings
    transcripts: Transcripts | None = None
    desk: HelpDesk | None = None
    router: ConversationRouter | None = None     # every channel's Inbox
    tickets: Tickets | None = None
    accounts: Accounts | None = None
    privacy: Privacy | None = None               # GDPR export / erase and the retention purge
    attachments: AttachmentStore | None = None   # the files shoppers send (var/attachments)
    rate_limit: ChatLimits | None = None         # the web channel's budgets
    bot: RasaClient | None = None
    graph: GraphClient | None = None             # when Meta is configured
    recorder: Recorder | None = None             # analytics events, appended in the background
    clock: Callable[[], datetime] | None = None  # the shop's "now" (aware)
    feeds: FeedHub | None = None                 # one pub/sub connection for all sockets
    shop: ShopConfig | None = None               # config/shop.yml
    survey_links: SurveyLinks | None = None      # None: surveys by link not configured
    senders: dict[str, Sender] = field(default_factory=dict)  # channel -> its outbound side
    typing: TypingSignals | None = None          # typing indicators, both ways (never stored)
    mail: Any = None                             # mail.settings.MailChannelSettings
    mail_ingest: Any = None                      # mail.ingest.MailIngest when the e-mail channel is on
    mail_reader: Any = None                      # mail.imap_reader.ImapReader when IMAP_URL is set
    mail_originals: Any = None                   # mail.originals.MailOriginals (even with the channel off)
    studio: Any = None                           # editor.studio.Studio on the loaded FAQ index

    @property
    def inbox(self) -> Inbox:
        """Where channel adapters hand shoppers' messages: the router."""
        assert self.router is not None, "the router is built in the lifespan"
        return self.router


def get_state(request: Request) -> GatewayState:
    return request.app.state.gateway  # type: ignore[no-any-return]
