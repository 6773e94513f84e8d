"""Order status: look the order up through the gate once the form has its number and proof."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from shop.orders import describe

from .common import ServiceAction, lang_of


class ActionOrderStatus(ServiceAction):
    NAME = "action_order_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        number = tracker.get_slot("order_number") or ""
        proof = tracker.get_slot("order_proof") or ""
        cid = tracker.sender_id
        done: list[EventType] = [SlotSet("order_number", None), SlotSet("order_proof", None),
                                 SlotSet("form_retries", 0)]
        if not (number and proof):
            return done   # the form ended early (a way out was offered): nothing to look up
        found = await self.services.order_gate.lookup(number, proof, conversation=cid,
                                                      client=await self.services.client_of(cid))
        if found.outcome == "limited":
            dispatcher.utter_message(response="utter_order_lookup_limited")
        elif found.order is None:
            dispatcher.utter_message(response="utter_order_unknown", order_number=number)
        else:
            reply = describe(found.order, lang_of(tracker), self.services.hours.day_of(self.services.clock()))
            # a late parcel has its own response, so analytics and tests can tell it apart
            dispatcher.utter_message(response="utter_order_late" if reply.late else "utter_order_status",
                                     order_number=found.order.number, status=reply.status,
                                     details=reply.details)
        return done
