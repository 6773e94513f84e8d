"""The shopper's language, re-detected on every message (Rasa runs this custom slot
mapping after each user message, before choosing what to say)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from .common import ServiceAction

MIN_CONFIDENCE = 0.75
MIN_LETTERS = 4


class ActionDetectLanguage(ServiceAction):
    """Sets `lang` when the text is clearly French or English; "ok", an order number, an
    e-mail address or a button payload leave it alone, so the bot keeps the shopper's language."""

    NAME = "action_detect_language"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        text = words_only(tracker.latest_message.get("text") or "")
        detector = self.services.detector
        if detector is None or text.startswith("/") or sum(c.isalpha() for c in text) < MIN_LETTERS:
            return []
        lang, confidence = detector.detect(text)
        if lang not in ("fr", "en") or confidence < MIN_CONFIDENCE or lang == tracker.get_slot("lang"):
            return []
        return [SlotSet("lang", lang)]


def words_only(text: str) -> str:
    """The text without e-mail addresses and links: they are in no language (an address typed to
    prove an order is yours must not switch a French conversation to English)."""
    return " ".join(w for w in text.split() if "@" not in w and "://" not in w and not w.startswith("www."))
