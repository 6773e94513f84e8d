"""A follow-up through the real Rasa server: the FAQ action finds the previous FAQ question in
the tracker Rasa sends, so "et depuis la Belgique ?" after a returns answer stays on returns."""

from __future__ import annotations

import uuid

from tests.stack import Gateway, Rasa


def texts(replies: list[dict]) -> str:
    return "\n".join(r.get("text", "") for r in replies)


def test_a_follow_up_is_answered_in_the_context_of_the_previous_question(
        closed_stack: tuple[Gateway, Rasa]) -> None:
    _, bot = closed_stack
    sender = f"followup-{uuid.uuid4().hex}"
    first = texts(bot.say(sender, "Je voudrais retourner un article, comment faire ?"))
    assert "Mondial Relay" in first                          # returns: the free label in France
    replies = bot.say(sender, "et depuis la Belgique ?")
    assert "7,90" in texts(replies)                          # the Belgian return label, not another topic
    # the same words in a new conversation have no context to lean on
    alone = bot.say(f"alone-{uuid.uuid4().hex}", "et depuis la Belgique ?")
    assert "7,90" not in texts(alone)
