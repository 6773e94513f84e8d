"""The shopper's language for the bot's replies (Rasa runs this custom slot mapping after each
user message, before choosing what to say).

The gateway decides a message's language once (conversation/language.py) and sends it as the
message's metadata; this only copies it into the `lang` slot, so the bot and the gateway never
disagree and no text is analysed twice.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from kit.texts import LANGS

from .common import ServiceAction


class ActionDetectLanguage(ServiceAction):
    """Sets `lang` from the message's metadata; a message without one ("ok", an order number,
    an e-mail address, a button) leaves it alone, so the bot keeps the shopper's language."""

    NAME = "action_detect_language"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        lang = (tracker.latest_message.get("metadata") or {}).get("lang")
        if lang not in LANGS or lang == tracker.get_slot("lang"):
            return []
        return [SlotSet("lang", lang)]
