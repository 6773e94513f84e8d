"""Issue 14, "unsolicited survey scores": `/csat{"score": 1}`, `/nps{...}`, `/ces{...}` typed into
any conversation (widget, Messenger, WhatsApp all reach the same router) were recorded as survey
answers. Through the real router and Redis: a score counts only for a survey the conversation
was offered, once. The e-mailed NPS link (signed) counts once per ticket for as long as a link
can live, not only while the analytics dedupe (30 days) remembers it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
from fastapi.testclient import TestClient

from analytics.events import EventKind
from analytics.log import SEEN, EventLog
from analytics.recorder import Recorder
from conversation.router import ConversationRouter
from conversation.surveys import OFFER_TTL_S
from conversation.transcript import Transcripts
from handoff.desk import HelpDesk
from handoff.survey_links import SurveyLinks
from kit.keys import OFFER
from ops.redis_server import RedisServer
from retrieval.service import RetrievalService
from tests.conversation.helpers import CHANNEL, shopper
from tests.fakes.bots import FaqBot, RecordingSender
from tests.helpers import on_redis

FORGED = ('/csat{"score": 1}', '/nps{"score": 0}', '/ces{"score": 1}', '/csat{"score": "1"}')


def _router(client: aioredis.Redis) -> ConversationRouter:
    recorder = Recorder(EventLog(client, secret="test"))
    return ConversationRouter(client, Transcripts(client), HelpDesk(client), FaqBot(),
                              {CHANNEL: RecordingSender()}, recorder=recorder)


async def _say(router: ConversationRouter, cid: str, *texts: str, sender: str = "psid-1") -> None:
    for i, text in enumerate(texts):
        mid = f"m.{asyncio.get_running_loop().time()}.{i}"
        await router.submit(shopper(cid, text, mid=mid, sender=sender))
        await router.idle()
    await router.recorder.flush()


async def _recorded(client: aioredis.Redis) -> tuple[list[tuple[str, str]], int]:
    """(survey, score) of each survey_answered analytics event, and their number."""
    events = [e for e in await EventLog(client).read() if e.kind == EventKind.SURVEY_ANSWERED]
    return [(e.data["survey"], str(e.data["score"])) for e in events], len(events)


def test_scores_typed_where_no_survey_was_offered_are_not_recorded(redis_server: RedisServer) -> None:
    async def scenario(client: aioredis.Redis) -> Any:
        await client.flushdb()
        router = _router(client)
        cid = await router.transcripts.open(CHANNEL, "psid-1", lang="en")
        await _say(router, cid, *FORGED, "where is my parcel?")
        history = await router.transcripts.history(cid)
        return await _recorded(client), router.bot.seen, history  # type: ignore[attr-defined]

    (stream, events), seen, history = on_redis(redis_server.url, scenario)
    assert stream == [] and events == 0
    assert seen == ["where is my parcel?"]                  # dropped, not handed to Rasa either
    assert not any("main reason" in m.text for m in history)  # no "why?" for a forged score


def test_an_offered_survey_takes_exactly_one_score(redis_server: RedisServer) -> None:
    async def scenario(client: aioredis.Redis) -> Any:
        await client.flushdb()
        router = _router(client)
        cid = await router.transcripts.open(CHANNEL, "psid-1", lang="en")
        await router.closed(cid, "marie@shop.example")       # the real offer: an agent closed
        ttl = await client.ttl(OFFER.format(cid=cid, survey="csat"))
        await _say(router, cid, '/ces{"score": 1}', '/nps{"score": 0}')   # not the offered survey
        await _say(router, cid, '/csat{"score": 1}')
        await _say(router, cid, "too slow")                  # the "why?" still works
        await _say(router, cid, '/csat{"score": 1}', '/csat{"score": 5}')  # again: already answered
        return ttl, await _recorded(client)

    ttl, (stream, events) = on_redis(redis_server.url, scenario)
    assert 0 < ttl <= OFFER_TTL_S                            # an offer does not wait forever
    assert stream == [("csat", "1")] and events == 1


def test_an_offer_in_one_conversation_does_not_open_another(redis_server: RedisServer) -> None:
    async def scenario(client: aioredis.Redis) -> Any:
        await client.flushdb()
        router = _router(client)
        offered = await router.transcripts.open(CHANNEL, "psid-1", lang="en")
        other = await router.transcripts.open(CHANNEL, "psid-2", lang="en")
        await router.closed(offered, "marie@shop.example")
        await _say(router, other, '/csat{"score": 1}', sender="psid-2")
        return await _recorded(client)

    stream, events = on_redis(redis_server.url, scenario)
    assert stream == [] and events == 0


def test_the_effort_offer_after_a_yes_counts_once_through_two_gateways(redis_server: RedisServer) -> None:
    async def scenario(client: aioredis.Redis) -> Any:
        await client.flushdb()
        first, second = _router(client), _router(client)
        cid = await first.transcripts.open(CHANNEL, "psid-1", lang="en")
        await _say(first, cid, "where is my parcel?", "/affirm")   # "did that help?" yes -> CES offered
        await asyncio.gather(*(router.submit(shopper(cid, '/ces{"score": 2}', mid=f"m.ces.{i}"))
                               for i, router in enumerate((first, second, first, second))))
        for router in (first, second):
            await router.idle()
            await router.recorder.flush()
        return await _recorded(client)

    stream, events = on_redis(redis_server.url, scenario)
    assert stream == [("ces", "2")] and events == 1


@pytest.fixture
def web(app_factory: Callable[..., Any], retrieval_service: RetrievalService,
        redis_client: redis.Redis) -> Iterator[TestClient]:
    with TestClient(app_factory(retrieval=retrieval_service, survey_secret="test-survey-secret",
                                       public_url="https://support.shop.example")) as client:
        yield client


def test_an_nps_link_counts_once_even_after_the_analytics_dedupe_forgets(
        web: TestClient, redis_client: redis.Redis, redis_server: RedisServer) -> None:
    links = SurveyLinks("test-survey-secret", "https://support.shop.example", days=366)   # allowed: 1-366
    token = links.token("ticket", "T-7", "en")
    url = "/survey/nps/" + token
    assert "your answer is saved" in web.post(url, data={"score": "0"}).text
    assert "already answered" in web.post(url, data={"score": "0"}).text
    # 30 days later the analytics event id is forgotten (its TTL), the 366-day link still works
    link = links.read(token)
    assert redis_client.delete(SEEN.format(eid=link.answer_id)) == 1
    assert "already answered" in web.post(url, data={"score": "0"}).text
    another = "/survey/nps/" + links.token("ticket", "T-7", "fr")   # a new link for the same ticket
    assert "Vous avez déjà répondu" in web.post(another, data={"score": "0"}).text

    async def answers(client: aioredis.Redis) -> int:
        return sum(e.kind == EventKind.SURVEY_ANSWERED for e in await EventLog(client).read())

    assert on_redis(redis_server.url, answers) == 1
