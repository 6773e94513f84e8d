"""The bot's FAQ action passes the conversation's previous FAQ question as context, so
"and from Belgium?" after a returns answer is read as a question about returns."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from rasa_sdk import Tracker

from bot.actions.faq import FOLLOW_UP_WINDOW, previous_faq_question
from retrieval.service import RetrievalService
from tests.gateway.actions_client import call, slots

RETURN_Q = "How do I return an item?"
FOLLOW_UP = "and from Belgium?"


def user(text: str) -> dict[str, Any]:
    return {"event": "user", "text": text}


def answered(entry: str) -> list[dict[str, Any]]:
    """What the FAQ action leaves in the tracker after a direct answer."""
    return [{"event": "action", "name": "action_answer_faq"},
            {"event": "slot", "name": "faq_band", "value": "answer"},
            {"event": "slot", "name": "faq_entry", "value": entry}, {"event": "bot", "text": "..."}]


def tracker(events: list[dict[str, Any]]) -> Tracker:
    return Tracker("conv-1", {}, events[-1] if events else {}, events, False, None, {}, None)


@pytest.mark.parametrize(("events", "expected"), [
    ([user(RETURN_Q), *answered("return-en"), user(FOLLOW_UP)], RETURN_Q),
    # "did that help?" -> "yes" in between
    ([user(RETURN_Q), *answered("return-en"), user("/affirm"), user(FOLLOW_UP)], RETURN_Q),
    # a clicked suggestion: the text is a payload, the entry id stands for the question
    ([user('/faq_choice{"faq_id": "return-en"}'), *answered("return-en"), user(FOLLOW_UP)], "return-en"),
    # the latest FAQ answer wins
    ([user("Where is my parcel?"), *answered("track-en"), user(RETURN_Q), *answered("return-en"),
      user(FOLLOW_UP)], RETURN_Q),
    # the last message still within the window
    ([user(RETURN_Q), *answered("return-en"), *[user(f"m{i}") for i in range(FOLLOW_UP_WINDOW)]], RETURN_Q),
    # no FAQ answer yet, or too long ago, or the slot was cleared
    ([user(FOLLOW_UP)], None),
    ([user(RETURN_Q), *answered("return-en"), *[user(f"m{i}") for i in range(FOLLOW_UP_WINDOW + 1)]], None),
    ([user(RETURN_Q), *answered("return-en"), {"event": "slot", "name": "faq_entry", "value": None},
      user(FOLLOW_UP)], None),
    # a chain of follow-ups on one entry: the question that opened it, not the elliptic last one
    ([user("I received a damaged lamp"), *answered("damaged-en"), user("do I need photos?"),
      *answered("damaged-en"), user("/affirm"), user("how long do I have?")], "I received a damaged lamp"),
    # ... which starts after the previous entry
    ([user(RETURN_Q), *answered("return-en"), user("I received a damaged lamp"), *answered("damaged-en"),
      user("do I need photos?"), *answered("damaged-en"), user("how long?")], "I received a damaged lamp"),
    # the current message's own answer (a retried action) is not its context
    ([user(RETURN_Q), *answered("return-en")], None),
])
def test_previous_faq_question(events: list[dict[str, Any]], expected: str | None) -> None:
    assert previous_faq_question(tracker(events)) == expected


def test_a_follow_up_after_an_faq_answer_is_answered_in_context(
        bot: TestClient, retrieval_service: RetrievalService) -> None:  # noqa: F811
    alone = retrieval_service.search(FOLLOW_UP, "en")
    assert alone.band != "answer" or alone.best.id != "return-en"  # the premise: not found alone
    res = call(bot, "action_answer_faq", FOLLOW_UP, lang="en",
               events=[user(RETURN_Q), *answered("return-en"), user(FOLLOW_UP)])
    assert res.status_code == 200, res.text
    out = slots(res)
    if out["faq_band"] == "answer":
        assert out["faq_entry"] == "return-en"
    else:  # offered as the first suggestion (the KB does not know "Belgium")
        assert out["faq_band"] == "suggest"
        buttons = res.json()["responses"][0]["buttons"]
        assert '"return-en"' in buttons[0]["payload"]
    assert out["contact_reason"] == "returns/process"


def test_without_a_previous_answer_the_follow_up_is_searched_alone(bot: TestClient) -> None:  # noqa: F811
    res = call(bot, "action_answer_faq", FOLLOW_UP, lang="en")
    assert res.status_code == 200, res.text
    assert slots(res).get("contact_reason") != "returns/process"
