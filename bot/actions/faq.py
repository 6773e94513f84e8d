"""Answering from the FAQ: answer, "did you mean", or an honest "I don't know"."""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from conversation import faq, payloads

from .common import ServiceAction, lang_of, latest_entity
from .services import Services

MISSES_BEFORE_ESCALATION = 2
MAX_SUGGESTIONS = 3
FOLLOW_UP_WINDOW = 3  # shopper messages (this one included) over which an FAQ answer is followed up


def _answered(dispatcher: CollectingDispatcher, answer: faq.Answer) -> list[EventType]:
    dispatcher.utter_message(text=answer.text)
    dispatcher.utter_message(response="utter_did_that_help")
    return [SlotSet("faq_band", "answer"), SlotSet("escalate", False), SlotSet("faq_misses", 0),
            SlotSet("faq_entry", answer.hit.id), SlotSet("contact_reason", answer.hit.reason)]


def previous_faq_question(tracker: Tracker) -> str | None:
    """The question behind the conversation's last FAQ answer, if recent (e.g. before "did that
    help?" / "yes"): the shopper's text, or the entry id when they clicked a suggestion (the text
    is then a button payload). It lets the engine read "et pour la Suisse ?" as a follow-up."""
    entry: str | None = None
    seen = 0
    for event in reversed(tracker.events):  # newest first: the current message comes first
        if event.get("event") == "slot" and event.get("name") == "faq_entry" and seen and entry is None:
            entry = event.get("value") or ""
            if not entry:  # the slot was cleared: nothing to follow up
                return None
        elif event.get("event") == "user":
            if entry is not None:
                text = (event.get("text") or "").strip()
                return entry if not text or text.startswith("/") else text
            seen += 1
            if seen > FOLLOW_UP_WINDOW:
                return None
    return None


def _event_id(tracker: Tracker, kind: str) -> str:
    """Stable per shopper message: a retried action is counted once."""
    return f"{kind}:{tracker.sender_id}:{tracker.latest_message.get('message_id') or len(tracker.events)}"


# "This answer is only available in French:", said before an answer from another language
ANSWER_IN = {"fr": "utter_answer_in_fr", "en": "utter_answer_in_en"}


class ActionAnswerFaq(ServiceAction):
    NAME = "action_answer_faq"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        lang = lang_of(tracker)
        retriever = self.services.retriever()
        if retriever is None:  # index still loading: never leave the shopper without a way out
            return await self._miss(dispatcher, tracker, lang)
        if tracker.latest_message.get("intent", {}).get("name") == "faq_choice":
            chosen = latest_entity(tracker, "faq_id")
            hit = retriever.entry(chosen) if chosen else None
            if hit is not None:
                return _answered(dispatcher, faq.clicked(
                    retriever, hit, conversation=tracker.sender_id, lang=lang,
                    recorder=self.services.recorder, event_id=_event_id(tracker, "click")))
        text = tracker.latest_message.get("text") or ""
        context = previous_faq_question(tracker)
        result = await asyncio.to_thread(retriever.search, text, lang, MAX_SUGGESTIONS, context)
        answered = faq.searched(retriever, result, conversation=tracker.sender_id, query=text, lang=lang,
                                recorder=self.services.recorder, event_id=_event_id(tracker, "faq"))
        if answered is not None:
            if answered.hit.lang != lang and answered.hit.lang in ANSWER_IN:   # only in another language
                dispatcher.utter_message(response=ANSWER_IN[answered.hit.lang])
            return _answered(dispatcher, answered)
        if result.band == "suggest":
            buttons = [{"title": h.title, "payload": payloads.payload("faq_choice", faq_id=h.id)}
                       for h in result.hits[:MAX_SUGGESTIONS] if h.band != "none"]
            dispatcher.utter_message(response="utter_did_you_mean", buttons=buttons)
            return [SlotSet("faq_band", "suggest"), SlotSet("escalate", False),
                    SlotSet("contact_reason", result.hits[0].reason)]
        return await self._miss(dispatcher, tracker, lang)

    async def _miss(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                    lang: str) -> list[EventType]:
        misses = int(tracker.get_slot("faq_misses") or 0) + 1
        events: list[EventType] = [SlotSet("faq_band", "none")]
        if misses >= MISSES_BEFORE_ESCALATION:
            # the second miss in a row: hand over without asking the shopper again (rule)
            return [*events, SlotSet("faq_misses", 0), SlotSet("escalate", True)]
        dispatcher.utter_message(response="utter_dont_know")
        await offer_help(self.services, dispatcher, lang)
        return [*events, SlotSet("escalate", False), SlotSet("faq_misses", misses)]


async def offer_help(services: Services, dispatcher: CollectingDispatcher, lang: str) -> None:
    """A human when one is really there; otherwise a message to the team, with the real
    next opening time."""
    availability = await services.availability()
    if availability == "human":
        dispatcher.utter_message(response="utter_offer_human")
    elif availability == "busy":
        dispatcher.utter_message(response="utter_offer_ticket_busy")
    else:
        dispatcher.utter_message(response="utter_offer_ticket", next_opening=services.next_opening(lang))


class ActionOfferHelp(ServiceAction):
    NAME = "action_offer_help"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        await offer_help(self.services, dispatcher, lang_of(tracker))
        return []
