"""Rasa's side of the custom actions for tests: `bot` (the gateway's /webhook with the real
retriever, calendar and Redis, on a Friday evening) and `call()`, which posts what Rasa 3.6
posts for one action."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis
import yaml
from fastapi.testclient import TestClient

from retrieval.service import RetrievalService

REPO = Path(__file__).resolve().parents[2]
DOMAIN = yaml.safe_load((REPO / "bot" / "domain.yml").read_text(encoding="utf-8"))
# endpoints.yml enables Rasa's selective domain: only these actions get the domain in their call
SEND_DOMAIN = {name for item in DOMAIN["actions"] if isinstance(item, dict)
               for name, conf in item.items() if (conf or {}).get("send_domain")}
PARIS = ZoneInfo("Europe/Paris")
TOKEN = "test-action-token"
FRIDAY_EVENING = datetime(2026, 11, 27, 19, 0, tzinfo=PARIS)   # closed until Monday 9:00
TUESDAY_MORNING = datetime(2026, 12, 1, 10, 0, tzinfo=PARIS)   # open


@pytest.fixture
def bot(app_factory: Callable[..., Any], retrieval_service: RetrievalService,
        redis_client: redis.Redis) -> Iterator[TestClient]:
    app = app_factory(retrieval=retrieval_service, action_token=TOKEN,
                      shop_config=REPO / "config" / "shop.yml")
    with TestClient(app) as client:
        client.app.state.gateway.action_services.clock = lambda: FRIDAY_EVENING
        yield client


def call(client: TestClient, action: str, text: str = "", intent: str = "faq", lang: str = "fr",
         slots: dict[str, Any] | None = None, entities: list[dict] | None = None,
         events: list[dict] | None = None, active_loop: str | None = None, sender: str = "conv-1",
         token: str = TOKEN, metadata: dict[str, Any] | None = None) -> Any:
    tracker = {
        "sender_id": sender, "slots": {"lang": lang, **(slots or {})},
        "latest_message": {"text": text, "intent": {"name": intent, "confidence": 1.0},
                           "entities": entities or [], "message_id": "m-" + text[:8],
                           "metadata": metadata or {}},
        "events": events or [{"event": "user", "text": text}], "paused": False,
        "followup_action": None, "active_loop": {"name": active_loop} if active_loop else {},
        "latest_action_name": "action_listen", "latest_input_channel": "rest",
    }
    body = {"next_action": action, "sender_id": sender, "tracker": tracker, "version": "3.6.21"}
    if action in SEND_DOMAIN:
        body["domain"] = DOMAIN
    return client.post(f"/webhook?token={token}", json=body)


def responses(res: Any) -> list[dict]:
    assert res.status_code == 200, res.text
    return res.json()["responses"]


def slots(res: Any) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in res.json()["events"] if e["event"] == "slot"}


