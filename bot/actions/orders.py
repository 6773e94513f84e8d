"""Order status: ask for the number if needed, then look it up in the shop's system."""

from __future__ import annotations

from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

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


class ActionOrderStatus(ServiceAction):
    NAME = "action_order_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        number = tracker.get_slot("order_number") or ""
        order = self.services.orders.lookup(number)
        if order is None:
            dispatcher.utter_message(response="utter_order_unknown", order_number=number)
        else:
            status, details = describe(order, lang_of(tracker))
            dispatcher.utter_message(response="utter_order_status", order_number=order.number,
                                     status=status, details=details)
        return [SlotSet("order_number", None)]
