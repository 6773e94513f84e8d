"""The shopper's language as an entity, from the message's metadata, inside Rasa.

The gateway detects the language of every message (conversation/language.py) and sends it as
metadata. It used to reach the `lang` slot through a custom slot mapping, i.e. a call from Rasa
to the action server on every turn, carrying the whole tracker, to copy one value. This
component puts it in the message as a `lang` entity instead, and the slot's `from_entity`
mapping fills it in-process (domain.yml); the entity does not influence the dialogue
(`influence_conversation: false`). A message without a language ("ok", an order number) adds
nothing, so the slot keeps the conversation's language.

Runs in the Rasa venv (Python 3.10): imports nothing from the gateway.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES
from rasa.shared.nlu.training_data.message import Message

LANGS = ("fr", "en")
ENTITY = "lang"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class LanguageFromMetadata(GraphComponent, EntityExtractorMixin):
    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> LanguageFromMetadata:
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            lang = (message.get("metadata") or {}).get("lang")
            if lang not in LANGS:
                continue
            entity = {"entity": ENTITY, "value": lang, "start": 0, "end": 0, "confidence_entity": 1.0,
                      "extractor": self.__class__.__name__}
            message.set(ENTITIES, [*message.get(ENTITIES, []), entity], add_to_output=True)
        return messages
