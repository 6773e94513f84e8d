"""What the routes share, stored on `app.state.gateway` (no module globals, so many apps can coexist)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from fastapi import Request

from .index_loader import IndexLoader
from .metrics import Metrics
from .settings import Settings


@dataclass
class GatewayState:
    settings: Settings
    index: IndexLoader
    metrics: Metrics
    redis: aioredis.Redis | None = None  # created in the lifespan, on the server's event loop
    actions: Any = None                  # rasa_sdk ActionExecutor, built in the lifespan
    action_services: Any = None          # what the actions use (bot.actions.services.Services)
    inbox: Any = None                    # gateway.channels.base.Inbox: where adapters hand messages
    meta: Any = None                     # gateway.channels.meta.MetaSettings (Messenger/WhatsApp)
    transcripts: Any = None              # handoff.transcript.Transcripts
    desk: Any = None                     # handoff.desk.HelpDesk
    router: Any = None                   # handoff.routing.ConversationRouter (also the Inbox)
    tickets: Any = None                  # handoff.tickets.Tickets
    accounts: Any = None                 # handoff.accounts.Accounts
    rate_limit: Any = None               # gateway.ratelimit.ChatLimits (web channel budgets)
    bot: Any = None                      # gateway.rasa_client.RasaClient
    graph: Any = None                    # gateway.channels.graph.GraphClient (when Meta is configured)
    recorder: Any = None                 # analytics.recorder.Recorder (events, in the background)
    clock: Any = None                    # () -> aware datetime: the shop's "now"
    feeds: Any = None                    # gateway.feeds.FeedHub: one pub/sub connection for all sockets
    shop: Any = None                     # handoff.shop_config.ShopConfig (config/shop.yml)
    survey_links: Any = None             # handoff.survey_links.SurveyLinks (None: not configured)
    senders: dict[str, Any] = field(default_factory=dict)  # channel -> gateway.channels.base.Sender


def get_state(request: Request) -> GatewayState:
    return request.app.state.gateway  # type: ignore[no-any-return]
