"""Answering from the FAQ: answer, "did you mean", or an honest "I don't know"."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from conversation import faq, payloads
from retrieval.engine import Hit

from .common import ServiceAction, lang_of, latest_entity
from .services import Services

MAX_SUGGESTIONS = 3
FOLLOW_UP_WINDOW = 3  # shopper messages (this one included) over which an FAQ answer is followed up
CHAIN_TURNS = 8       # earlier messages searched for the question that opened a chain of follow-ups


def _answered(dispatcher: CollectingDispatcher, answer: faq.Answer, lang: str,
              ask_feedback: bool, offer_lookup: bool = False) -> list[EventType]:
    if answer.hit.lang != lang and answer.hit.lang in ANSWER_IN:   # only in another language
        dispatcher.utter_message(response=ANSWER_IN[answer.hit.lang])
    dispatcher.utter_message(text=answer.text)
    if ask_feedback:   # on a parcel's whereabouts, with "check my order" beside yes / no
        feedback = "utter_did_that_help_or_lookup" if offer_lookup else "utter_did_that_help"
        dispatcher.utter_message(response=feedback)
    return [SlotSet("faq_band", "answer"), SlotSet("faq_misses", 0),
            SlotSet("faq_entry", answer.hit.id), SlotSet("contact_reason", answer.hit.reason)]


def _turns(tracker: Tracker) -> list[tuple[str, str | None]]:
    """The shopper's messages before the current one, newest first, each with the FAQ entry
    its reply left in `faq_entry` ("" = cleared, None = not touched)."""
    turns: list[tuple[str, str | None]] = []
    entry: str | None = None
    current = True
    for event in reversed(tracker.events):
        if event.get("event") == "slot" and event.get("name") == "faq_entry" and entry is None:
            entry = event.get("value") or ""
        elif event.get("event") == "user":
            if not current:
                turns.append(((event.get("text") or "").strip(), entry))
            current, entry = False, None
    return turns


def previous_faq_question(tracker: Tracker) -> str | None:
    """The question behind the conversation's last FAQ answer, if recent (e.g. before "did that
    help?" / "yes"): the shopper's text, or the entry id when they clicked a suggestion (the text
    is then a button payload). It lets the engine read "et pour la Suisse ?" as a follow-up.
    After a chain of follow-ups on one entry ("do I need photos?" after a damaged lamp), it is
    the question that opened the chain: an elliptic question is no context for the next one."""
    turns = _turns(tracker)
    last = next((i for i, (_, entry) in enumerate(turns[:FOLLOW_UP_WINDOW]) if entry is not None), None)
    if last is None or not turns[last][1]:   # no FAQ answer in the window, or the slot was cleared
        return None
    entry = turns[last][1]
    opening = last
    for i in range(last + 1, min(len(turns), last + CHAIN_TURNS)):
        if turns[i][1] == entry:
            opening = i
        elif turns[i][1] is not None:   # another entry, or cleared: the chain started after it
            break
    text = turns[opening][0]
    return entry if not text or text.startswith("/") else text


def _event_id(tracker: Tracker, kind: str) -> str:
    """Stable per shopper message: a retried action is counted once."""
    return f"{kind}:{tracker.sender_id}:{tracker.latest_message.get('message_id') or len(tracker.events)}"


# "This answer is only available in French:", said before an answer from another language
ANSWER_IN = {"fr": "utter_answer_in_fr", "en": "utter_answer_in_en"}


def _mostly_whereabouts(suggestions: list[Hit], order_offer: Callable[[str], bool]) -> bool:
    """The best guess, and at least two thirds of the guesses' weight, are about where a parcel
    is (order_lookups.offer_after): "une question sur mon achat" spreads over other topics."""
    if not suggestions or not order_offer(suggestions[0].reason):
        return False
    parcel = sum(h.score for h in suggestions if order_offer(h.reason))
    return parcel >= 2 * sum(h.score for h in suggestions if not order_offer(h.reason))


async def reply_from_faq(services: Services, dispatcher: CollectingDispatcher, tracker: Tracker, *,
                         in_form: bool = False) -> list[EventType] | None:
    """The FAQ's reply to the latest message: an answer, or "did you mean" buttons when one of
    the suggestions is plausibly related; None when it has neither (the caller says so).
    In a form (`in_form`), only what reads like a question is looked up, and its answer comes
    without the "did this help?" buttons."""
    lang = lang_of(tracker)
    retriever = services.retriever()
    if retriever is None:  # index still loading: never leave the shopper without a way out
        return None
    if tracker.latest_message.get("intent", {}).get("name") == "faq_choice":
        chosen = latest_entity(tracker, "faq_id")
        hit = retriever.entry(chosen) if chosen else None
        if hit is not None:
            return _answered(dispatcher, faq.clicked(
                retriever, hit, conversation=tracker.sender_id, lang=lang,
                recorder=services.recorder, event_id=_event_id(tracker, "click")), lang, not in_form,
                services.order_offer(hit.reason))
    text = tracker.latest_message.get("text") or ""
    if in_form and not faq.looks_like_a_question(text):
        return None
    context = previous_faq_question(tracker)
    result = await asyncio.to_thread(retriever.search, text, lang, MAX_SUGGESTIONS, context)
    answered = faq.searched(retriever, result, conversation=tracker.sender_id, query=text, lang=lang,
                            recorder=services.recorder, event_id=_event_id(tracker, "faq"))
    if answered is not None:
        return _answered(dispatcher, answered, lang, not in_form, services.order_offer(answered.hit.reason))
    suggestions = [h for h in result.hits[:MAX_SUGGESTIONS] if h.band != "none"]
    if tracker.latest_message.get("intent", {}).get("name") == "out_of_scope":
        suggestions = []   # not a shop question: an answer that fits, or nothing
    if result.band == "suggest" and not in_form and _mostly_whereabouts(suggestions, services.order_offer):
        # unsure, but about where a parcel is ("Is my order on its way?"): their own order says
        # more than any article; the lookup asks for its number (and the proof it is theirs)
        dispatcher.utter_message(response="utter_order_lookup_first")
        return [SlotSet("faq_band", "suggest"), SlotSet("contact_reason", suggestions[0].reason),
                FollowupAction("order_form")]
    if result.band == "suggest" and suggestions:
        buttons = [{"title": h.title, "payload": payloads.payload("faq_choice", faq_id=h.id)}
                   for h in suggestions]
        dispatcher.utter_message(response="utter_did_you_mean", buttons=buttons)
        return [SlotSet("faq_band", "suggest"), SlotSet("contact_reason", suggestions[0].reason)]
    return None


class ActionAnswerFaq(ServiceAction):
    NAME = "action_answer_faq"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        replied = await reply_from_faq(self.services, dispatcher, tracker)
        if replied is not None:
            return replied
        # no answer: say what the bot can do and offer a person; never hand over by itself
        # (a handoff needs the shopper's word: ask_human, a complaint, a button)
        misses = int(tracker.get_slot("faq_misses") or 0) + 1
        dispatcher.utter_message(response="utter_out_of_scope")
        await offer_help(self.services, dispatcher, lang_of(tracker))
        return [SlotSet("faq_band", "none"), SlotSet("faq_misses", misses)]


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
