"""The cold NPS link: signed tokens (forged, edited, expired links refused), the server-rendered
page (no JavaScript), one answer per link, the "why" kept masked, and the link in ticket replies."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
from fastapi.testclient import TestClient

from analytics import report
from analytics.events import EventKind
from analytics.log import EventLog
from handoff.desk import HelpDesk
from handoff.survey_links import BadLink, SurveyLinks
from handoff.tickets import Tickets
from ops.redis_server import RedisServer
from retrieval.service import RetrievalService
from shop.hours import from_config

SECRET = "test-survey-secret"


@pytest.fixture
def links() -> SurveyLinks:
    return SurveyLinks(SECRET, "https://support.shop.example")


@pytest.fixture
def client(app_factory: Callable[..., Any], retrieval_service: RetrievalService,
           redis_client: redis.Redis) -> Iterator[TestClient]:
    redis_client.flushdb()
    with TestClient(app_factory(retrieval=retrieval_service, survey_secret=SECRET,
                                       public_url="https://support.shop.example")) as test_client:
        yield test_client


def test_tokens_are_signed_and_expire(links: SurveyLinks) -> None:
    token = links.token("ticket", "T-1", "en", now=1000.0)
    link = links.read(token, now=1000.0)
    assert (link.kind, link.ref, link.lang) == ("ticket", "T-1", "en")
    assert links.url("ticket", "T-1", "en").startswith("https://support.shop.example/survey/nps/")
    payload, signature = token.split(".")
    forged = links.token("ticket", "T-2", "en", now=1000.0).split(".")[0] + "." + signature
    other = SurveyLinks("other", "x").token("ticket", "T-1", "en")
    for bad in (forged, payload, token + "x", "nonsense", other):
        with pytest.raises(BadLink, match="not valid"):
            links.read(bad, now=1000.0)
    with pytest.raises(BadLink, match="expired"):
        links.read(token, now=1000.0 + 31 * 86400)


def test_the_page_records_one_answer_with_its_masked_why(client: TestClient, links: SurveyLinks,
                                                          redis_server: RedisServer) -> None:
    url = "/survey/nps/" + links.token("ticket", "T-42", "en")
    page = client.get(url)
    assert page.status_code == 200 and "Would you recommend Atelier Lumen to a friend?" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert page.text.count('type="radio" name="score"') == 11 and "<script" not in page.text

    missing = client.post(url, data={"why": "no score"})
    assert missing.status_code == 422 and "Please pick a score from 0 to 10." in missing.text

    why = "Slow reply <script>alert(1)</script>, mail me at jo@example.com"
    first = client.post(url, data={"score": "6", "why": why})
    assert first.status_code == 200 and "your answer is saved" in first.text
    again = client.post(url, data={"score": "10"})
    assert "already answered" in again.text

    async def stored() -> tuple[list[Any], list[dict[str, Any]]]:
        r = aioredis.Redis.from_url(redis_server.url)
        try:
            return await EventLog(r).read(), await report.verbatims(r, "2000-01-01", "2100-01-01")
        finally:
            await r.aclose()

    events, verbatims = asyncio.run(stored())
    answers = [e for e in events if e.kind == EventKind.SURVEY_ANSWERED]
    assert [(e.data["survey"], e.data["score"], e.data["ticket"]) for e in answers] == [("nps", 6, "T-42")]
    [v] = verbatims
    assert v["text"] == "Slow reply <script>alert(1)</script>, mail me at [email]"   # masked, kept as text
    assert (v["band"], v["ticket"]) == ("detractor", "T-42")


def test_bad_links_get_a_clear_page(client: TestClient, links: SurveyLinks) -> None:
    assert client.get("/survey/nps/nonsense").status_code == 404
    expired = links.token("ticket", "T-1", "fr", now=time.time() - 40 * 86400)
    response = client.get("/survey/nps/" + expired)
    assert response.status_code == 410 and "Ce lien a expiré." in response.text
    assert client.post("/survey/nps/nonsense", data={"score": "9"}).status_code == 404


class FakeMailer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    async def send(self, to: str, subject: str, body: str) -> str:
        self.sent.append((to, subject, body))
        return f"<m{len(self.sent)}@shop.example>"


def test_ticket_replies_carry_the_nps_link(redis_server: RedisServer, links: SurveyLinks) -> None:
    from datetime import UTC, datetime

    async def scenario() -> str:
        r = aioredis.Redis.from_url(redis_server.url)
        try:
            mailer = FakeMailer()
            tickets = Tickets(HelpDesk(r), from_config(), clock=lambda: datetime.now(UTC), mailer=mailer,
                              survey_links=links, shop_name="Atelier Lumen")
            opened = await tickets.open_ticket(conversation_id="c-nps", channel="web", email="jo@example.com",
                                               order_number="", message="Where is my order?", lang="en",
                                               reason="delivery/tracking", source="test", request_key="nps-1")
            await tickets.reply(opened["ticket_id"], "agent@shop.example", "It left today.")
            body = mailer.sent[0][2]
            token = body.rsplit("/survey/nps/", 1)[1].strip()
            assert links.read(token).ref == opened["ticket_id"]
            return body
        finally:
            await r.aclose()

    body = asyncio.run(scenario())
    assert body.startswith("It left today.\n\n--\nWould you recommend Atelier Lumen to a friend?")
