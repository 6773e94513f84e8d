"""Helpers shared by the actions: the base class, the shopper's language, entities."""

from __future__ import annotations

from rasa_sdk import Action, Tracker

from kit.texts import norm_lang

from .services import Services


class ServiceAction(Action):
    """An action bound to the gateway's services (retriever, calendar, desk, orders)."""

    NAME = ""

    def __init__(self, services: Services):
        self.services = services

    def name(self) -> str:
        return self.NAME


def lang_of(tracker: Tracker) -> str:
    return norm_lang(tracker.get_slot("lang"))


def latest_entity(tracker: Tracker, name: str) -> str | None:
    return next(tracker.get_latest_entity_values(name), None)
