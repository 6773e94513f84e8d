"""The language of a shopper's message, decided once, in the gateway.

The router stores it with the message and hands it to Rasa as message metadata; the bot's
`action_detect_language` only copies it into the `lang` slot. One rule, one place: before,
the gateway and the bot each detected with their own thresholds and could disagree.
"""

from __future__ import annotations

import re
from typing import Protocol

from kit.texts import LANGS

MIN_CONFIDENCE = 0.75
MIN_LETTERS = 4
# e-mail addresses and links are in no language: an address typed to prove an order is yours
# must not switch a French conversation to English
NO_LANGUAGE = re.compile(r"\S+@\S+|https?://\S+|www\.\S+")


class Detector(Protocol):
    def detect(self, text: str) -> tuple[str, float]: ...


def message_language(detector: Detector | None, text: str) -> str:
    """"fr" or "en" when the text is clearly one of them; "" for buttons (`/payload`), "ok",
    order numbers, addresses and anything unclear (the conversation keeps its language)."""
    words = NO_LANGUAGE.sub(" ", text)
    if detector is None or text.startswith("/") or sum(c.isalpha() for c in words) < MIN_LETTERS:
        return ""
    lang, confidence = detector.detect(words)
    return lang if lang in LANGS and confidence >= MIN_CONFIDENCE else ""
