"""Degraded mode with no Rasa server at all (a port where nothing listens) but the real index and
Redis: FAQ answers straight from the retriever, an honest message otherwise, a ticket captured
in the chat, the circuit breaker failing fast, and /readyz saying "degraded"."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from ops.ports import free_port
from retrieval.service import RetrievalService
from tests.gateway.web_client import new_conversation, wait_history

from .helpers import METRICS_AUTH

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def client(app_factory: Callable[..., Any], retrieval_service: RetrievalService,
           redis_client: redis.Redis) -> Iterator[TestClient]:
    redis_client.flushdb()
    dead = f"http://127.0.0.1:{free_port()},http://127.0.0.1:{free_port()}"   # two Rasa servers, both down
    with TestClient(app_factory(retrieval=retrieval_service, rasa_url=dead)) as test_client:
        yield test_client


def say(client: TestClient, cid: str, text: str) -> None:
    assert client.post(f"/api/chat/conversations/{cid}/messages", json={"text": text}).status_code == 202


def texts(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(m["role"], m["text"]) for m in messages]


def test_faq_answers_continue_and_a_ticket_is_taken_without_rasa(client: TestClient,
                                                                 redis_client: redis.Redis) -> None:
    cid = new_conversation(client, lang="fr")
    say(client, cid, "Où est mon colis ?")
    history = wait_history(client, cid, 3)
    assert history[1]["role"] == "bot" and "lien de suivi" in history[1]["text"]       # the FAQ answer
    assert "mode réduit" in history[2]["text"]
    assert [b["payload"] for b in history[2]["buttons"]] == ["/leave_message"]

    say(client, cid, "J'aimerais parler de ma facture de l'an dernier en détail")        # not in the FAQ
    assert "problème technique" in wait_history(client, cid, 5)[4]["text"]

    say(client, cid, "/leave_message")
    assert wait_history(client, cid, 7)[6]["text"] == "Quelle est votre adresse e-mail ?"
    say(client, cid, "pas un mail")
    assert "ne semble pas valide" in wait_history(client, cid, 9)[8]["text"]
    say(client, cid, "Jo@Example.com")
    assert wait_history(client, cid, 11)[10]["text"] == "Merci. Quel est votre message ?"
    say(client, cid, "Ma facture de mars est fausse.")
    done = wait_history(client, cid, 13)[12]["text"]
    assert done.startswith("C'est noté : votre demande T-")

    tid = done.split("demande ", 1)[1].split(" ", 1)[0]
    ticket = redis_client.hgetall(f"support:ticket:{tid}")
    assert ticket["email"] == "Jo@example.com"   # domain normalised, local part kept (RFC 5321)
    assert ticket["message"] == "Ma facture de mars est fausse."
    assert ticket["source"] == "degraded" and ticket["conversation_id"] == cid


def test_the_breaker_opens_and_readyz_says_degraded(client: TestClient) -> None:
    cid = new_conversation(client, lang="en")
    for i in range(4):
        say(client, cid, "Where is my parcel?")
        wait_history(client, cid, 3 * (i + 1))
    state = client.app.state.gateway
    assert state.router.degraded_turns == 4
    started = time.monotonic()
    body = client.get("/readyz", headers=METRICS_AUTH).json()
    assert time.monotonic() - started < 5
    assert body["status"] == "degraded" and body["index"]["ready"] and body["redis"]["ok"]
    assert [s["circuit"] for s in body["rasa"]["servers"].values()] == ["opened", "opened"]


def test_metrics_count_messages_stages_errors_and_events(client: TestClient) -> None:
    cid = new_conversation(client, lang="fr")
    say(client, cid, "Où est mon colis ?")
    wait_history(client, cid, 3)
    text = client.get("/metrics", headers=METRICS_AUTH).text
    def value(line_start: str) -> float:
        line = next(ln for ln in text.splitlines() if ln.startswith(line_start))
        return float(line.rsplit(" ", 1)[1])
    assert value('support_messages_total{channel="web",direction="in"}') >= 1
    assert value('support_messages_total{channel="web",direction="out"}') >= 2
    assert value('support_errors_total{kind="bot_unavailable"}') >= 1
    assert value('support_stage_duration_seconds_count{stage="degraded"}') >= 1
    assert value('support_events_total{kind="message_in"}') >= 1
    assert "faq_index_entries" in text or "faq_index" in text


def test_the_message_form_answers_questions_stops_on_cancel_never_loops(client: TestClient,
                                                                       redis_client: redis.Redis) -> None:
    cid = new_conversation(client, lang="fr")
    say(client, cid, "/leave_message")
    assert wait_history(client, cid, 2)[1]["text"] == "Quelle est votre adresse e-mail ?"
    say(client, cid, "Où est mon colis ?")                       # a question, not an address
    history = wait_history(client, cid, 5)
    assert "lien de suivi" in history[3]["text"] and history[4]["text"].startswith("Reprenons")
    say(client, cid, "jo arobase example")
    assert "ne semble pas valide" in wait_history(client, cid, 7)[6]["text"]
    say(client, cid, "toujours pas")                                # second invalid: a way out, not a loop
    out = wait_history(client, cid, 9)[8]
    assert "ne tournons pas en rond" in out["text"] and out["buttons"][0]["payload"] == "/leave_message"
    say(client, cid, "/leave_message")
    wait_history(client, cid, 11)
    say(client, cid, "annuler")
    assert wait_history(client, cid, 13)[12]["text"].startswith("D'accord, j'arrête là")
    assert redis_client.zcard("support:tickets:open") == 0
