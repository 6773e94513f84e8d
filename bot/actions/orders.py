"""Order status: ask for the number and a proof of ownership, then look it up through the gate."""

from __future__ import annotations

from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from shop.order_gate import parse_proof
from shop.orders import describe, normalise_order_number

from .common import ServiceAction, lang_of


class ValidateOrderForm(FormValidationAction):
    def name(self) -> str:
        return "validate_order_form"

    def validate_order_number(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                              domain: DomainDict) -> dict[str, Any]:
        number = normalise_order_number(str(value or ""))
        if number is None:
            dispatcher.utter_message(response="utter_invalid_order_number")
            return {"order_number": None}
        return {"order_number": number}

    def validate_order_proof(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: DomainDict) -> dict[str, Any]:
        """Keeps what was typed (the gate normalises it again); asks again if it is neither an
        e-mail address nor a postcode."""
        if parse_proof(str(value or "")) is None:
            dispatcher.utter_message(response="utter_invalid_order_proof")
            return {"order_proof": None}
        return {"order_proof": str(value).strip()}


class ActionOrderStatus(ServiceAction):
    NAME = "action_order_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        number = tracker.get_slot("order_number") or ""
        proof = tracker.get_slot("order_proof") or ""
        cid = tracker.sender_id
        found = await self.services.order_gate.lookup(number, proof, conversation=cid,
                                                      client=await self.services.client_of(cid))
        if found.outcome == "limited":
            dispatcher.utter_message(response="utter_order_lookup_limited")
        elif found.order is None:
            dispatcher.utter_message(response="utter_order_unknown", order_number=number)
        else:
            status, details, _late = describe(found.order, lang_of(tracker),
                                              self.services.hours.day_of(self.services.clock()))
            dispatcher.utter_message(response="utter_order_status", order_number=found.order.number,
                                     status=status, details=details)
        return [SlotSet("order_number", None), SlotSet("order_proof", None)]
