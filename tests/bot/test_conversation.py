"""Whole conversations over HTTP through a real Rasa server, the real gateway (custom
actions, retriever on kb_content) and the real Redis (tracker and lock store)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from ops.redis_server import RedisServer
from tests.stack import Gateway, Rasa, rasa


def texts(replies: list[dict]) -> str:
    return "\n".join(r.get("text", "") for r in replies)


def test_a_french_question_gets_the_french_faq_answer(closed_stack: tuple[Gateway, Rasa]) -> None:
    _, bot = closed_stack
    replies = bot.say(f"fr-{uuid.uuid4().hex}", "Bonjour, où est mon colis ?")
    assert "lien de suivi" in texts(replies)          # kb_content/fr/.../order-tracking-fr.md
    buttons = [b["payload"] for r in replies for b in r.get("buttons", [])]
    assert buttons == ["/affirm", "/deny"]            # "Cette réponse vous a-t-elle aidé ?"


def test_an_english_question_gets_the_english_answer(closed_stack: tuple[Gateway, Rasa]) -> None:
    _, bot = closed_stack
    replies = bot.say(f"en-{uuid.uuid4().hex}", "How can I track my parcel?")
    assert "tracking link" in texts(replies).lower()
    assert "Did this answer your question?" in texts(replies)


def test_the_language_the_gateway_decided_fills_the_slot_inside_rasa(
        closed_stack: tuple[Gateway, Rasa]) -> None:
    """The `lang` metadata becomes a `lang` entity (bot/components/metadata.py) and the slot's
    from_entity mapping fills it: no action-server call for it. A message without a language,
    or with one the shop does not speak, leaves the slot alone."""
    _, bot = closed_stack
    sender = f"lang-{uuid.uuid4().hex}"
    for metadata, expected in (({"lang": "en"}, "en"), ({}, "en"), ({"lang": "de"}, "en"),
                               ({"lang": "<script>"}, "en"), ({"lang": "fr"}, "fr")):
        bot.say(sender, "ok", metadata=metadata)
        assert bot.tracker(sender)["slots"]["lang"] == expected, metadata
    custom = [e for e in bot.tracker(sender)["events"] if e.get("event") == "action"
              and e.get("name") == "action_detect_language"]
    assert custom == []


def test_an_edited_answer_is_served_without_retraining_or_restarting(
        closed_stack: tuple[Gateway, Rasa], kb_copy: Path) -> None:
    _, bot = closed_stack
    (entry,) = kb_copy.glob("fr/**/order-tracking-fr.md")
    marker = f"Nouveau texte de test {uuid.uuid4().hex[:8]}."
    text = entry.read_text(encoding="utf-8")
    head, _, _ = text.partition("\n---\n")
    entry.write_text(f"{head}\n---\n{marker}\n", encoding="utf-8")
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if marker in texts(bot.say(f"edit-{uuid.uuid4().hex}", "Où est mon colis ?")):
            return
        time.sleep(3)
    raise AssertionError("the edited answer never reached the bot")


def test_a_rasa_restart_keeps_the_conversation(closed_stack: tuple[Gateway, Rasa],
                                                redis_server: RedisServer, tmp_path: Path) -> None:
    gw, bot = closed_stack
    sender = f"restart-{uuid.uuid4().hex}"
    replies = bot.say(sender, "Où en est ma commande ?")
    assert "AL-" in texts(replies)                    # asks for the order number
    # a second Rasa server on the same Redis takes over the conversation mid-form
    with rasa(redis_server.url, gw.url, gw.token, tmp_path) as other:
        replies = other.say(sender, "AL-482913")
        assert "code postal" in texts(replies) and "Colissimo" not in texts(replies)   # proof first
        replies = other.say(sender, "marie.dupont@exemple.fr")
        assert "Colissimo" in texts(replies)
        assert other.tracker(sender)["active_loop"] in ({}, None) or \
            other.tracker(sender)["active_loop"].get("name") is None


def test_an_order_is_shown_only_with_its_email_or_postcode(closed_stack: tuple[Gateway, Rasa]) -> None:
    """Issue 14: the number alone (printed on parcels, guessable) proves nothing."""
    _, bot = closed_stack
    stranger = f"order-{uuid.uuid4().hex}"
    replies = bot.say(stranger, "où est ma commande AL-482913 ?")
    assert "code postal" in texts(replies) and "Colissimo" not in texts(replies)
    replies = bot.say(stranger, "curieux@ailleurs.example")
    assert "Je ne trouve pas de commande AL-482913" in texts(replies)
    assert "Colissimo" not in texts(replies) and "expédiée" not in texts(replies)
    owner = f"order-{uuid.uuid4().hex}"
    bot.say(owner, "where is my order AL-482913?")
    replies = bot.say(owner, "69003")
    assert "Colissimo" in texts(replies) and "shipped" in texts(replies)


@pytest.mark.parametrize("text", ["et en Suisse ?", "combien ?", "how long does it take?",
                                  "et pour la Belgique ?", "is it free?"])
def test_a_short_follow_up_is_never_a_handoff_intent(closed_stack: tuple[Gateway, Rasa], text: str) -> None:
    _, bot = closed_stack
    assert bot.parse(text)["intent"]["name"] not in ("complaint", "ask_human", "stop")


@pytest.mark.parametrize(("text", "intent"), [
    ("je veux parler à un conseiller", "ask_human"), ("I need a human to help me", "ask_human"),
    ("mon colis est arrivé cassé, c'est inadmissible", "complaint"),
    ("this is the third time I write, nobody answers", "complaint"),
    ("laisse tomber", "stop"), ("never mind", "stop")])
def test_handoff_and_stop_intents_stand_with_their_words(closed_stack: tuple[Gateway, Rasa], text: str,
                                                         intent: str) -> None:
    _, bot = closed_stack
    assert bot.parse(text)["intent"]["name"] == intent
