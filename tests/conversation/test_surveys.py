"""Hot surveys through the real router and Redis: the "why?" after a score (kept, masked, per
reason), skipping it, ignoring it, and the effort score after a "yes, that helped" (once), with
the question kept for the editors when the answer did not help. Scores count only for offered
surveys (tests/security/test_survey_scores.py covers the unsolicited ones)."""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aioredis

from analytics import report
from analytics.events import EventKind
from analytics.log import EventLog
from analytics.recorder import Recorder
from conversation.router import ConversationRouter
from conversation.surveys import SKIP, WHY_WINDOW_S
from conversation.transcript import Transcripts
from handoff.desk import HelpDesk
from ops.redis_server import RedisServer
from shop.config import SurveysConfig
from tests.fakes.bots import FaqBot, RecordingSender
from tests.helpers import on_redis

from .helpers import CHANNEL, roles_texts, shopper


class Clock:
    def __init__(self) -> None:
        self.now = 1_772_000_000.0

    def __call__(self) -> float:
        return self.now


async def _setup(client: aioredis.Redis, config: SurveysConfig | None = None
                 ) -> tuple[ConversationRouter, str]:
    await client.flushdb()
    log = EventLog(client, secret="test")
    router = ConversationRouter(client, Transcripts(client), HelpDesk(client), FaqBot(),
                                {CHANNEL: RecordingSender()}, recorder=Recorder(log), surveys=config)
    cid = await router.transcripts.open(CHANNEL, "psid-1", lang="en")
    await router.transcripts.update(cid, reason="delivery/tracking")
    return router, cid


async def _offer(router: ConversationRouter, cid: str, *surveys: str) -> None:
    """What the router does when it asks (after an agent closes, after a "yes, that helped")."""
    for survey in surveys:
        await router.surveys.ask(await router.transcripts.require(cid), survey)


async def _say(router: ConversationRouter, cid: str, *texts: str) -> None:
    for i, text in enumerate(texts):
        await router.submit(shopper(cid, text, mid=f"m.{id(text)}.{i}.{asyncio.get_running_loop().time()}"))
        await router.idle()
    await router.recorder.flush()


def test_the_why_after_a_score_is_kept_masked_per_reason(redis_server: RedisServer) -> None:
    async def scenario(client: aioredis.Redis) -> Any:
        router, cid = await _setup(client)
        await _offer(router, cid, "csat")
        await _say(router, cid, '/csat{"score": 2}', "Too slow, call me on +33 6 12 34 56 78", "where is it?")
        events = await EventLog(client).read()
        comments = await report.verbatims(client, "2000-01-01", "2100-01-01")
        return router.bot.seen, await router.transcripts.history(cid), events, comments  # type: ignore[attr-defined]

    seen, history, events, comments = on_redis(redis_server.url, scenario)
    assert roles_texts(history)[:5] == [
        ("bot", "How would you rate the help you received?"),
        ("shopper", '/csat{"score": 2}'),
        ("bot", "Thank you! In a few words, what is the main reason for your score? (optional)"),
        ("shopper", "Too slow, call me on +33 6 12 34 56 78"),
        ("bot", "Thank you for your feedback!")]
    assert [b.payload for b in history[2].buttons] == [SKIP]
    assert seen == ["where is it?"]                       # the bot saw neither the score nor the why
    kinds = [e.kind for e in events]
    assert kinds.count(EventKind.SURVEY_ANSWERED) == 1 and kinds.count(EventKind.SURVEY_COMMENT) == 1
    [comment] = comments
    assert comment["text"] == "Too slow, call me on [phone]"
    assert (comment["survey"], comment["score"], comment["band"]) == ("csat", 2, "dissatisfied")


def test_skipping_ignoring_or_answering_late_routes_to_the_bot(redis_server: RedisServer) -> None:
    clock = Clock()

    async def scenario(client: aioredis.Redis) -> Any:
        router, cid = await _setup(client)
        router.surveys.clock = clock
        await _offer(router, cid, "csat")
        await _say(router, cid, '/csat{"score": 4}', SKIP, "question one")       # skipped
        await _offer(router, cid, "ces")
        await _say(router, cid, '/ces{"score": 6}', "/affirm")                  # a button instead
        await _offer(router, cid, "csat")
        await _say(router, cid, '/csat{"score": 5}')
        clock.now += WHY_WINDOW_S + 1
        await _say(router, cid, "question two")                                 # too late for a why
        return router.bot.seen, await report.verbatims(client, "2000-01-01", "2100-01-01")  # type: ignore[attr-defined]

    seen, comments = on_redis(redis_server.url, scenario)
    assert seen == ["question one", "/affirm", "question two"]
    assert comments == []


def test_out_of_range_scores_are_dropped_and_why_can_be_turned_off(redis_server: RedisServer) -> None:
    async def scenario(client: aioredis.Redis) -> Any:
        router, cid = await _setup(client, SurveysConfig(ask_why=False))
        await _offer(router, cid, "csat")
        await _say(router, cid, '/csat{"score": 9}', '/csat{"score": 5}', "hello")
        await router.recorder.flush()
        answers = [e for e in await EventLog(client).read() if e.kind == EventKind.SURVEY_ANSWERED]
        return router.bot.seen, roles_texts(await router.transcripts.history(cid)), answers  # type: ignore[attr-defined]

    seen, history, answers = on_redis(redis_server.url, scenario)
    assert seen == ["hello"]                              # the bot never sees a score payload
    assert [e.data["score"] for e in answers] == [5]   # 9 neither counted nor used the offer
    assert ("bot", "Thank you for your feedback!") in history
    assert not any("main reason" in text for _, text in history)


def test_a_yes_gets_one_effort_survey_and_a_no_keeps_the_question(redis_server: RedisServer) -> None:
    async def scenario(client: aioredis.Redis) -> Any:
        router, cid = await _setup(client)
        await _say(router, cid, "where is my parcel?", "/affirm", "can I change the address?", "/affirm",
                   "my parcel is lost, mail me at jo@example.com", "/deny")
        unanswered = await report.unanswered(client, "2000-01-01", "2100-01-01")
        return await router.transcripts.history(cid), unanswered

    history, unanswered = on_redis(redis_server.url, scenario)
    effort = [m for m in history if m.text.startswith("Getting your answer was")]
    assert len(effort) == 1                               # asked once per conversation
    assert [b.payload for b in effort[0].buttons] == [f'/ces{{"score": {n}}}' for n in range(1, 8)]
    assert [(u["q"], u["why"]) for u in unanswered] == [
        ("my parcel is lost, mail me at [email]", "thumbs_down")]


def test_yes_no_that_does_not_answer_did_it_help_is_not_a_thumbs(redis_server: RedisServer) -> None:
    async def scenario(client: aioredis.Redis) -> Any:
        router, cid = await _setup(client)
        await _say(router, cid, "/affirm")                # nothing asked before: a plain yes
        return [e.kind for e in await EventLog(client).read()], await router.transcripts.history(cid)

    kinds, history = on_redis(redis_server.url, scenario)
    assert EventKind.THUMBS not in kinds
    assert not any(m.text.startswith("Getting your answer was") for m in history)
