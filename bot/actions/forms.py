"""The forms' validation: values in any order, questions answered mid-form, a way out.

Every form (the order lookup, the message to the team) reads each shopper message the same way:
1. the value it asked for (or another of its values, given early: "AL-482913, anna@example.com")
   is taken;
2. otherwise a shop question ("au fait, les retours sont gratuits ?") is answered from the FAQ
   and the form asks again, once;
3. otherwise the value is invalid: the form says what it expects; the second time in a row it
   stops and offers a way out instead of asking forever.
"Annuler" / "never mind" (intent `stop`), a request for a person and a complaint leave the form
through rules (bot/data/rules.yml): the slot mappings exclude those intents.
"""

from __future__ import annotations

import re
from typing import Any

from email_validator import EmailNotValidError, validate_email
from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from conversation.message import clean_text
from shop.order_gate import parse_proof
from shop.order_numbers import NumberFormat

from .common import ServiceAction
from .faq import reply_from_faq
from .services import Services

MAX_RETRIES = 2           # invalid values in a row before the way out
MAX_MESSAGE_CHARS = 4000
NO_ORDER_WORDS = {"non", "no", "aucun", "aucune", "none", "-", "pas de commande", "no order", "nope", "n/a",
                  "pas de numéro", "no number", "je n'en ai pas", "i don't have one", "je ne sais pas",
                  "je sais pas", "jsp", "aucune idée", "pas encore", "i don't know", "dunno", "not sure",
                  "not yet", "pas concerné", "not relevant"}
EMAIL_IN_TEXT = re.compile(r"[^\s,;:<>()\"']+@[^\s,;:<>()\"']+\.[^\s,;:<>()\"'.]+")
# in a sentence, only a 5-digit (French) postcode; any postcode when it is the whole message
POSTCODE_IN_TEXT = re.compile(r"(?<![\w-])\d{5}(?![\w-])")
FORMS = {"ticket_form": ("ticket_email", "ticket_order", "ticket_message"),
         "order_form": ("order_number", "order_proof")}


def order_in(text: str, numbers: NumberFormat) -> str | None:
    """The first order number anywhere in a message ("c'est la AL-482913 merci"), in the shop's
    format; a message that is all an e-mail address or a postcode holds none (a WooCommerce
    order number and a postcode are both digits: asked for the proof, "75002" is the proof)."""
    if parse_proof((text or "").strip()) is not None and numbers.normalise(text) is None:
        return None
    return numbers.find(text)


def proof_in(text: str, numbers: NumberFormat) -> str | None:
    """An e-mail address or a postcode anywhere in a message, outside the order number."""
    if parse_proof((text or "").strip()) is not None and numbers.normalise(text) is None:
        return (text or "").strip()
    text = numbers.strip(text or "").strip()   # "AL-482913" must not pass for a postcode
    if parse_proof(text) is not None:
        return text
    for pattern in (EMAIL_IN_TEXT, POSTCODE_IN_TEXT):
        for match in pattern.finditer(text):
            if parse_proof(match.group(0)) is not None:
                return match.group(0).strip()
    return None


def email_in(text: str) -> str | None:
    for match in EMAIL_IN_TEXT.finditer(text or ""):
        try:
            return validate_email(match.group(0).strip(".,;"), check_deliverability=False).normalized
        except EmailNotValidError:
            continue
    return None


class FormValidator(FormValidationAction):
    """Shared by the forms: answers questions asked mid-form, counts invalid values."""

    FORM = ""
    WAY_OUT = "utter_form_way_out"

    def __init__(self, services: Services):
        self.services = services

    def name(self) -> str:
        return f"validate_{self.FORM}"

    def text(self, tracker: Tracker) -> str:
        return clean_text(str(tracker.latest_message.get("text") or "")).strip()

    @property
    def numbers(self) -> NumberFormat:
        """The shop's order numbers (its order source's format)."""
        return self.services.order_gate.numbers

    async def not_a_value(self, slot: str, invalid_response: str, dispatcher: CollectingDispatcher,
                          tracker: Tracker) -> dict[str, Any]:
        """The message is not the value asked for: a question is answered (the form asks again),
        anything else is an invalid value; the second in a row ends the form with a way out."""
        if not self.text(tracker).startswith("/") or tracker.latest_message.get("intent", {}).get(
                "name") == "faq_choice":
            replied = await reply_from_faq(self.services, dispatcher, tracker, in_form=True)
            if replied is not None:
                dispatcher.utter_message(response="utter_form_resume")
                return {slot: None, **{e["name"]: e["value"] for e in replied if e.get("event") == "slot"}}
        retries = int(tracker.get_slot("form_retries") or 0) + 1
        if retries >= MAX_RETRIES:
            dispatcher.utter_message(response=self.WAY_OUT)
            # requested_slot None ends the form; the submit action sees it incomplete
            return {**{s: None for s in FORMS[self.FORM]}, "form_retries": 0, "requested_slot": None}
        dispatcher.utter_message(response=invalid_response, example=self.numbers.example)
        return {slot: None, "form_retries": retries}


class ValidateTicketForm(FormValidator):
    FORM = "ticket_form"
    WAY_OUT = "utter_form_way_out_ticket"

    async def validate_ticket_email(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> dict[str, Any]:
        email = email_in(str(value or ""))
        if email is None:
            return await self.not_a_value("ticket_email", "utter_invalid_email", dispatcher, tracker)
        order = order_in(str(value or ""), self.numbers)
        return {"ticket_email": email, "form_retries": 0, **({"ticket_order": order} if order else {})}

    async def validate_ticket_order(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> dict[str, Any]:
        text = str(value or "").strip()
        intent = tracker.latest_message.get("intent", {}).get("name")
        if intent == "deny" or text.lower().strip(" .!") in NO_ORDER_WORDS:
            return {"ticket_order": "-", "form_retries": 0}
        number = order_in(text, self.numbers)
        if number is None and int(tracker.get_slot("form_retries") or 0) + 1 >= MAX_RETRIES:
            # optional: go on without it (the message matters more), and say how to stop
            dispatcher.utter_message(response="utter_form_way_out_no_order")
            return {"ticket_order": "-", "form_retries": 0}
        if number is None:
            return await self.not_a_value("ticket_order", "utter_invalid_order_number", dispatcher, tracker)
        return {"ticket_order": number, "form_retries": 0}

    def validate_ticket_message(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                domain: DomainDict) -> dict[str, Any]:
        text = clean_text(str(value or "")).strip()
        return {"ticket_message": text[:MAX_MESSAGE_CHARS] if text else None}


class ValidateOrderForm(FormValidator):
    FORM = "order_form"

    async def validate_order_number(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> dict[str, Any]:
        """The number, and the proof when given in the same message; the proof alone is kept
        and the number asked again (any order)."""
        text = self.text(tracker)
        number = order_in(str(value or ""), self.numbers) or order_in(text, self.numbers)
        proof = proof_in(text, self.numbers)
        if number is None and proof is None:
            return await self.not_a_value("order_number", "utter_invalid_order_number", dispatcher, tracker)
        found = {"form_retries": 0, **({"order_proof": proof} if proof else {})}
        return {"order_number": number, **found}

    async def validate_order_proof(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                   domain: DomainDict) -> dict[str, Any]:
        """The e-mail address or postcode; a new order number in the message corrects the first
        ("non pardon, c'est AL-482914")."""
        text = self.text(tracker)
        # asked for the proof, "75002" is a postcode even where order numbers are digits
        # (WooCommerce); "AL-482914" alone is a corrected number, though it could pass for a postcode
        if parse_proof(text) is not None and (self.numbers.normalise(text) is None or text.isdigit()):
            return {"order_proof": text, "form_retries": 0}
        proof = proof_in(str(value or ""), self.numbers) or proof_in(text, self.numbers)
        number = order_in(text, self.numbers)
        if proof is None and number is None:
            return await self.not_a_value("order_proof", "utter_invalid_order_proof", dispatcher, tracker)
        return {"order_proof": proof, "form_retries": 0, **({"order_number": number} if number else {})}


class ActionAskOrderNumber(ServiceAction):
    """The order form's question, with an example in the shop's own format (AL-123456,
    XKBKNABJK, #1001...): Rasa calls `action_ask_<slot>` instead of the response when it exists."""

    NAME = "action_ask_order_number"
    RESPONSE = "utter_ask_order_number"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        dispatcher.utter_message(response=self.RESPONSE, example=self.services.order_gate.numbers.example)
        return []


class ActionAskTicketOrder(ActionAskOrderNumber):
    NAME = "action_ask_ticket_order"
    RESPONSE = "utter_ask_ticket_order"


class ActionLeaveForm(ServiceAction):
    """"Annuler" in a form: it stops, forgets what it was given, and says so."""

    NAME = "action_leave_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        form = (tracker.active_loop or {}).get("name") or ""
        dispatcher.utter_message(response="utter_form_cancelled")
        return [ActiveLoop(None), SlotSet("requested_slot", None), SlotSet("form_retries", 0),
                *(SlotSet(slot, None) for slot in FORMS.get(form, ()))]
