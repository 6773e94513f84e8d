"""Handing a conversation to a human, or taking a message when nobody is there."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from conversation.message import clean_text
from handoff.desk import HandoffRequest
from shop.order_numbers import NumberFormat

from .common import ServiceAction, lang_of

SUMMARY_TURNS = 3


def summary(tracker: Tracker) -> str:
    """The shopper's last messages, so the agent reads the problem before saying hello."""
    said = [e.get("text") for e in tracker.events if e.get("event") == "user" and e.get("text")
            and not str(e.get("text")).startswith("/")]
    return " | ".join(said[-SUMMARY_TURNS:])[:500]


def _trigger(tracker: Tracker) -> str:
    intent = tracker.latest_message.get("intent", {}).get("name")
    return {"ask_human": "asked", "complaint": "complaint"}.get(intent, "escalation")


class ActionHandoff(ServiceAction):
    NAME = "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        lang = lang_of(tracker)
        availability = await self.services.availability()
        # asked again with nobody there: the message is offered, not the same form a second time
        # (that would trap the shopper in it)
        again = tracker.get_slot("handoff") in ("ticket", "offered")
        if availability == "busy":
            dispatcher.utter_message(response="utter_escalate_again_busy" if again
                                     else "utter_escalate_ticket_busy")
        elif availability == "closed":
            dispatcher.utter_message(response="utter_escalate_again" if again else "utter_escalate_ticket",
                                     next_opening=self.services.next_opening(lang))
        if availability != "human":
            return [SlotSet("handoff", "offered" if again else "ticket")]  # rule: ticket_form, or wait
        await self.services.desk.request_handoff(HandoffRequest(
            conversation_id=tracker.sender_id, lang=lang,
            reason=tracker.get_slot("contact_reason") or "", summary=summary(tracker),
            trigger=_trigger(tracker), channel=channel_of(tracker)))
        dispatcher.utter_message(response="utter_handoff_queued")
        # the agent has it; the gateway resumes the bot when the agent closes the conversation
        return [SlotSet("handoff", "queued"), ConversationPaused()]


def channel_of(tracker: Tracker) -> str:
    """The shopper's channel, as the gateway passed it (Rasa itself only sees "rest")."""
    return str((tracker.latest_message.get("metadata") or {}).get("channel") or "web")


class ActionSubmitTicket(ServiceAction):
    NAME = "action_submit_ticket"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        lang = lang_of(tracker)
        email = tracker.get_slot("ticket_email")
        channel = channel_of(tracker)
        cid = tracker.sender_id
        done = [SlotSet("ticket_email", None), SlotSet("ticket_order", None),
                SlotSet("ticket_message", None), SlotSet("faq_misses", 0), SlotSet("handoff", None),
                SlotSet("form_retries", 0)]
        if not (email and tracker.get_slot("ticket_order") and tracker.get_slot("ticket_message")):
            return done   # the form ended early (a way out was offered): nothing to send
        if await self.services.ticket_wait(cid, await self.services.client_of(cid)):
            dispatcher.utter_message(response="utter_ticket_limited")
            return done
        # one ticket per submitted form, even if Rasa retries this action
        request_key = f"{cid}:{tracker.latest_message.get('message_id') or len(tracker.events)}"
        ticket = await self.services.tickets.open_ticket(
            conversation_id=cid, channel=channel, email=email,
            order_number=_order_slot(tracker.get_slot("ticket_order"), self.services.order_gate.numbers),
            message=clean_text(str(tracker.get_slot("ticket_message") or "")), lang=lang,
            reason=tracker.get_slot("contact_reason") or "", source="bot", request_key=request_key)
        hours = self.services.sla_hours
        dispatcher.utter_message(
            response="utter_ticket_created", ticket_id=ticket["ticket_id"], email=email,
            sla_hours=int(hours) if float(hours).is_integer() else hours, deadline=ticket["promise"])
        return done


def _order_slot(value: Any, numbers: NumberFormat) -> str:
    """The form's order number again ("-" = none): a slot can also be set outside the form's
    validation (an entity in a hand-written `/intent{...}`), and agents must see a real number."""
    text = str(value or "").strip()
    return text if text == "-" else numbers.normalise(text) or ""
