"""What the gateway read in a message, as entities inside Rasa: its language and its order number.

The gateway decides the language of every message (conversation/language.py) and finds an order
number typed in the shop's own format (shop/order_numbers.py: a PrestaShop reference, a Shopify
"#1001", the demo's "AL-123456"), and sends both as metadata. Rasa's NLU knows neither the
shop's number format (its regex is the demo's) nor, without a call to the action server, the
language: this component adds them to the message as `lang` and `order_number` entities, and
the slots' `from_entity` mappings fill them in-process (domain.yml).

- `lang` (fr or en) does not influence the dialogue; a message without a language ("ok", an
  order number) adds nothing, so the slot keeps the conversation's language.
- `order_number`, already in the shop's spelling, replaces what the demo regex found in the same
  message: "où est ma commande XKBKNABJK ?" goes straight to the proof question instead of
  asking for the number the shopper just gave. Anything that does not look like a canonical
  number (1-40 capitals, digits, '#' or '-') is ignored.

Runs in the Rasa venv (Python 3.10): imports nothing from the gateway.
"""

from __future__ import annotations

import re
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES
from rasa.shared.nlu.training_data.message import Message

LANGS = ("fr", "en")
ORDER_NUMBER = re.compile(r"[A-Z0-9#][A-Z0-9#-]{0,39}")


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class EntitiesFromMetadata(GraphComponent, EntityExtractorMixin):
    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> EntitiesFromMetadata:
        return cls()

    def _entity(self, name: str, value: str) -> dict[str, Any]:
        return {"entity": name, "value": value, "start": 0, "end": 0, "confidence_entity": 1.0,
                "extractor": self.__class__.__name__}

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            metadata = message.get("metadata") or {}
            entities = list(message.get(ENTITIES, []))
            added = False
            if metadata.get("lang") in LANGS:
                entities.append(self._entity("lang", metadata["lang"]))
                added = True
            number = metadata.get("order_number")
            if isinstance(number, str) and ORDER_NUMBER.fullmatch(number):
                entities = [e for e in entities if e.get("entity") != "order_number"]
                entities.append(self._entity("order_number", number))
                added = True
            if added:
                message.set(ENTITIES, entities, add_to_output=True)
        return messages
