"""Every route of the app is classified, enumerated from the app itself: a new route that is not
declared public below must refuse anonymous callers (401) and, under /api/admin, agents (403).
Customers cannot reach each other's conversations by guessing ids."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from starlette.routing import Mount

from gateway.app import all_routes
from ops.redis_server import RedisServer
from retrieval.service import RetrievalService

from .helpers import PASSWORD, add_accounts

# Public on purpose, with the reason. Anything else is protected.
PUBLIC = {
    "/healthz", "/readyz",                                  # probes: status only (details need METRICS_TOKEN)
    "/openapi.json", "/api/search",                         # FAQ search: the FAQ is public
    "/api/chat/availability", "/api/chat/conversations",    # the widget: shoppers have no account
    "/api/chat/conversations/{cid}/messages",               # ... guarded by the unguessable id
    "/api/chat/conversations/{cid}/tickets",
    "/api/chat/conversations/{cid}/attachments",            # ... files: only under their conversation
    "/api/chat/conversations/{cid}/attachments/{aid}",
    "/ws/chat", "/widget.js", "/demo", "/console", "/dashboard", "/studio",   # pages; data needs a login
    "/help", "/help/{lang}", "/help/{lang}/search", "/help/{lang}/{entry_id}",
    "/help/{lang}/{entry_id}/feedback",
    "/survey/nps/{token}",                                  # guarded by the signed token
    "/api/agent/login",
    "/api/texts/{scope}",                                   # the pages' texts (console, dashboard, studio)
}
TOKEN_GUARDED = {"/webhook",                               # Rasa's action calls: ACTION_TOKEN
                 "/metrics"}                                # Prometheus: METRICS_TOKEN
SIGNED = {"/webhooks/messenger", "/webhooks/whatsapp",      # Meta: X-Hub-Signature-256
          "/webhooks/mailgun/mime"}                            # Mailgun: HMAC of timestamp + token
AGENT_PREFIX, ADMIN_PREFIX, EDITOR_PREFIX = "/api/agent/", "/api/admin/", "/api/editor/"
OWN_ACCOUNT = {"/api/agent/me", "/api/agent/logout", "/api/agent/language"}   # an editor's own session


@pytest.fixture
def api(app_factory: Callable[..., Any], retrieval_service: RetrievalService, redis_client: redis.Redis,
        redis_server: RedisServer) -> Iterator[TestClient]:
    redis_client.flushdb()
    add_accounts(redis_server.url, ana="agent", ed="editor")
    with TestClient(app_factory(retrieval=retrieval_service, action_token="action-secret")) as client:
        yield client


def http_routes(app: Any) -> list[tuple[str, str]]:
    out = []
    for route in all_routes(app):
        if isinstance(route, Mount) or not getattr(route, "methods", None):
            continue
        out += [(m, route.path) for m in sorted(route.methods) if m != "HEAD"]
    return out


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x-" + secrets.token_hex(4), path)


def test_every_route_is_classified(api: TestClient) -> None:
    paths = {getattr(r, "path", "") for r in all_routes(api.app)} - {"/static"}
    unknown = {p for p in paths if p not in PUBLIC | TOKEN_GUARDED | SIGNED
               and not p.startswith((AGENT_PREFIX, ADMIN_PREFIX, EDITOR_PREFIX)) and p != "/ws/agent"}
    assert not unknown, f"routes neither public nor under an authenticated prefix: {sorted(unknown)}"


def test_protected_routes_refuse_anonymous_and_wrong_role(api: TestClient) -> None:
    agent, editor = ({"Authorization": "Bearer " + api.post("/api/agent/login", json={
        "email": f"{name}@shop.example", "password": PASSWORD}).json()["token"]} for name in ("ana", "ed"))
    checked = 0
    for method, path in http_routes(api.app):
        if path in PUBLIC:
            continue
        url = concrete(path)
        anonymous = api.request(method, url, json={})
        if path in TOKEN_GUARDED:
            assert anonymous.status_code in (401, 403), (method, path, anonymous.status_code)
        elif path in SIGNED:
            # 403: bad handshake token or signature; 503: the channel is not configured at all
            assert anonymous.status_code in (403, 503), (method, path, anonymous.status_code)
        else:
            assert anonymous.status_code == 401, (method, path, anonymous.status_code)
            forged = api.request(method, url, json={}, headers={"Authorization": "Bearer forged-token"})
            assert forged.status_code == 401, (method, path, forged.status_code)
            if path.startswith((ADMIN_PREFIX, EDITOR_PREFIX)):       # the FAQ studio: editors and admins
                assert api.request(method, url, json={}, headers=agent).status_code == 403, (method, path)
            if path.startswith(ADMIN_PREFIX) or (path.startswith(AGENT_PREFIX) and path not in OWN_ACCOUNT):
                # an editor's login reaches no conversation, ticket or customer
                assert api.request(method, url, json={}, headers=editor).status_code == 403, (method, path)
        checked += 1
    assert checked >= 25


def test_the_agent_socket_needs_a_valid_token(api: TestClient) -> None:
    with api.websocket_connect("/ws/agent") as ws:
        ws.send_json({"type": "auth", "token": "forged"})
        frame = ws.receive_json()
        assert frame.get("type") == "error" and frame.get("status") == 401


def test_a_customer_cannot_reach_another_conversation(api: TestClient, redis_client: redis.Redis) -> None:
    mine = api.post("/api/chat/conversations", json={"lang": "fr"}).json()["conversation_id"]
    theirs = api.post("/api/chat/conversations", json={"lang": "fr"}).json()["conversation_id"]
    sent = api.post(f"/api/chat/conversations/{theirs}/messages", json={"text": "secret de B"})
    assert sent.status_code == 202
    assert re.fullmatch(r"c-[A-Za-z0-9_-]{24}", theirs)     # 144 random bits: not enumerable
    for guess in (theirs[:-1] + ("A" if theirs[-1] != "A" else "B"), "c-1", "c-" + "A" * 24, mine + "x",
                  "../" + theirs, theirs.upper()):
        res = api.get(f"/api/chat/conversations/{guess}/messages")
        assert res.status_code in (404, 422) and "secret de B" not in res.text, guess
    near = theirs[:-2] + ("xx" if theirs[-2:] != "xx" else "yy")   # never their own id (1 in 4096)
    with api.websocket_connect(f"/ws/chat?conversation_id={near}") as ws:
        welcome = ws.receive_json()
        assert welcome["resumed"] is False and welcome["conversation_id"] not in (theirs, mine)
    agent_conv = api.get(f"/api/agent/conversations/{theirs}")
    assert agent_conv.status_code == 401                    # the agent API needs a login
