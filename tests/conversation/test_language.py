"""A message's language is decided once, in the gateway, with one rule."""

from __future__ import annotations

import pytest

from conversation.language import message_language
from retrieval.text import LanguageDetector

DETECTOR = LanguageDetector(["fr", "en"])


@pytest.mark.parametrize(("text", "lang"), [
    ("Bonjour, où est mon colis s'il vous plaît ?", "fr"),
    ("Hello, where is my parcel please?", "en"),
    ("pirate@evil.example", ""),                          # a proof of ownership is in no language
    ("https://www.example.com/order/tracking", ""),
    ("my e-mail is marie@exemple.fr, where is my parcel please?", "en"),
    ("mon adresse est john.smith@example.com, merci de me répondre", "fr"),
    ("/affirm", ""),                                      # a button
    ("ok", ""),                                           # too short to say
    ("AL-482913", ""),
    # short messages: the language's own function words settle what lingua is unsure of
    ("Et la TVA est incluse ?", "fr"),                    # lingua alone: fr 0.59
    ("where is my parcel", "en"),                         # lingua alone: en 0.75
    ("why not??", "en"),
    ("'; DROP TABLE orders; --", ""),                     # no language: the conversation keeps its own
    ("stop texting me promos", "en"),                     # one French-listed word ("stop") is no proof
])
def test_one_rule_for_the_language_of_a_message(text: str, lang: str) -> None:
    assert message_language(DETECTOR, text) == lang


def test_without_a_detector_nothing_is_decided() -> None:
    assert message_language(None, "Hello, where is my parcel please?") == ""
