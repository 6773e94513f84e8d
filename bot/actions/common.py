"""Helpers shared by the actions: the shopper's language and slot resets."""

from __future__ import annotations

from rasa_sdk import Tracker


def lang_of(tracker: Tracker) -> str:
    return "en" if tracker.get_slot("lang") == "en" else "fr"


def latest_entity(tracker: Tracker, name: str) -> str | None:
    return next(tracker.get_latest_entity_values(name), None)
