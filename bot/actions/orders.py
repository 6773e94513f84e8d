"""Order status: look the order up through the gate once the form has its number and proof."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from shop.orders import describe, needs_a_human

from .common import ServiceAction, lang_of
from .faq import offer_help


class ActionOrderStatus(ServiceAction):
    NAME = "action_order_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        number = tracker.get_slot("order_number") or ""
        proof = tracker.get_slot("order_proof") or ""
        cid = tracker.sender_id
        lang = lang_of(tracker)
        done: list[EventType] = [SlotSet("order_number", None), SlotSet("order_proof", None),
                                 SlotSet("form_retries", 0)]
        if not (number and proof):
            return done   # the form ended early (a way out was offered): nothing to look up
        gate = self.services.order_gate
        found = await gate.lookup(number, proof, conversation=cid, client=await self.services.client_of(cid))
        if found.outcome == "limited":
            dispatcher.utter_message(response="utter_order_lookup_limited")
        elif found.outcome == "unavailable":   # the shop's system did not answer: say so, offer a message
            dispatcher.utter_message(response="utter_order_source_down")
            await offer_help(self.services, dispatcher, lang)
        elif not found.orders:
            dispatcher.utter_message(response="utter_order_unknown", order_number=number,
                                     example=gate.numbers.example)
        else:
            today = self.services.hours.day_of(self.services.clock())
            wrong = False
            for order in found.orders:   # a PrestaShop reference may cover several orders of one cart
                reply = describe(order, lang, today)
                details = ". ".join(part for part in (reply.details, reply.next) if part)
                # a late parcel has its own response, so analytics and tests can tell it apart
                dispatcher.utter_message(response="utter_order_late" if reply.late else "utter_order_status",
                                         order_number=order.number, status=reply.status, details=details)
                wrong = wrong or needs_a_human(order, reply)
            if wrong:
                await offer_help(self.services, dispatcher, lang)
        return done
