"""Attack: stuff the help centre's "was this helpful?" counts.

Seen live: `POST /help/{lang}/{entry}/feedback` counted every post, from any site (no CSRF
token) and without limit. Now the form carries a signed, expiring token bound to the entry
(forged, missing, stale or another entry's: 403 and nothing counted), cross-site posts are
refused, and one visitor counts once per entry per day. Through the real gateway app.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from gateway.help_catalogue import Article
from gateway.help_centre import TOKEN_TTL_S, feedback_token
from kit.keys import HELP_FEEDBACK
from retrieval.service import RetrievalService

ENTRY, PAGE = "/help/fr/track-fr/feedback", "/help/fr/track-fr"
TRACK_FR = Article("track-fr", "fr", "delivery/tracking", "", "")
SECRET = "help-test-secret"   # SURVEY_SECRET: signs the feedback forms
PEER = "x-test-peer"   # the test's way to choose the client address (see `peer_app`)


def peer_app(app: Any) -> Any:
    """The gateway app, with each request's client address taken from a test header (what
    uvicorn puts in the scope from the socket)."""

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            peer = dict(scope["headers"]).get(PEER.encode())
            if peer:
                scope = {**scope, "client": (peer.decode(), 50000)}
        await app(scope, receive, send)

    return wrapped


@pytest.fixture
def web(app_factory: Callable[..., Any], retrieval_service: RetrievalService,
        redis_client: redis.Redis) -> Iterator[TestClient]:
    with TestClient(peer_app(app_factory(retrieval=retrieval_service, survey_secret=SECRET))) as client:
        yield client


def page_token(web: TestClient, path: str = PAGE, peer: str = "198.51.100.7") -> str:
    [token] = re.findall(r'name="token" value="([^"]+)"', web.get(path, headers={PEER: peer}).text)
    return token


def vote(web: TestClient, token: str | None, helpful: str = "no", path: str = ENTRY,
         peer: str = "198.51.100.7", **headers: str) -> int:
    data = {"helpful": helpful} | ({"token": token} if token is not None else {})
    return web.post(path, data=data, headers={PEER: peer, **headers}, follow_redirects=False).status_code


def forged_tokens(web: TestClient) -> list[str | None]:
    good = page_token(web)
    issued, _, signature = good.partition(".")
    return [
        None, "", "garbage", good + "x", f"{int(issued) + 1}.{signature}",       # missing, edited
        page_token(web, "/help/en/track-en"),                                    # another entry's
        feedback_token(TRACK_FR, SECRET, now=time.time() - TOKEN_TTL_S - 60),            # expired
        f"{int(time.time())}.{'A' * 43}",                                         # forged signature
    ]


def test_forged_or_missing_tokens_are_refused_and_not_counted(web: TestClient,
                                                              redis_client: redis.Redis) -> None:
    for token in forged_tokens(web):
        assert vote(web, token) == 403, token
    response = web.post(ENTRY, data={"helpful": "no"}, headers={PEER: "198.51.100.7"})
    assert response.status_code == 403 and 'href="/help/fr/track-fr">Revenir' in response.text  # a way back
    assert redis_client.xlen(HELP_FEEDBACK) == 0


def test_a_cross_site_post_is_refused_even_with_a_valid_token(web: TestClient,
                                                              redis_client: redis.Redis) -> None:
    token = page_token(web)
    for site in ("cross-site", "same-site"):
        assert vote(web, token, **{"Sec-Fetch-Site": site}) == 403
    assert redis_client.xlen(HELP_FEEDBACK) == 0
    assert vote(web, token, **{"Sec-Fetch-Site": "same-origin"}) == 303   # our own form
    assert redis_client.xlen(HELP_FEEDBACK) == 1


def test_a_valid_token_counts_once_per_visitor_and_entry(web: TestClient, redis_client: redis.Redis) -> None:
    assert vote(web, page_token(web), "no") == 303
    for helpful in ("no", "yes", "no", "yes"):                      # fresh tokens, same visitor
        assert vote(web, page_token(web), helpful) == 303           # thanked as usual...
    assert [f["helpful"] for _, f in redis_client.xrange(HELP_FEEDBACK)] == ["0"]   # ...counted once
    # an IPv6 host owns its /64: rotating the interface id is still the same visitor
    assert vote(web, page_token(web), peer="2001:db8:1:2::10") == 303
    assert vote(web, page_token(web), peer="2001:db8:1:2:abcd::99") == 303
    # other visitors and other entries still count
    assert vote(web, page_token(web), peer="203.0.113.9") == 303
    assert vote(web, page_token(web, "/help/en/track-en"), "yes", path="/help/en/track-en/feedback") == 303
    assert [f["entry"] for _, f in redis_client.xrange(HELP_FEEDBACK)] == [
        "track-fr", "track-fr", "track-fr", "track-en"]
    # no address in Redis, only keyed digests
    keys = redis_client.keys("support:help:vote:*")
    assert len(keys) == 4 and not any("198.51" in k or "2001" in k for k in keys)
