"""Language of each shopper message as a `lang` entity, so the `lang` slot follows the
shopper (a switch mid-conversation switches the bot's replies) and domain responses pick
their FR or EN variation. Runs inside the Rasa server (.venv-rasa)."""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class LanguageEntity(GraphComponent):
    """Adds `{"entity": "lang", "value": "fr"|"en"}` when the text is clearly in one language;
    short or ambiguous messages ("ok", "AL-123456") add nothing, so the slot keeps its value.
    A button payload (`/intent{...}`) is never a language signal either."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"languages": ["fr", "en"], "min_confidence": 0.75, "min_letters": 4}

    def __init__(self, config: dict[str, Any]) -> None:
        from lingua import IsoCode639_1, LanguageDetectorBuilder

        self.config = config
        codes = [getattr(IsoCode639_1, c.upper()) for c in config["languages"]]
        self.detector = LanguageDetectorBuilder.from_iso_codes_639_1(*codes).build()

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> LanguageEntity:
        return cls(config)

    def detect(self, text: str) -> str | None:
        if not text or text.startswith("/"):
            return None
        if sum(c.isalpha() for c in text) < self.config["min_letters"]:
            return None
        values = self.detector.compute_language_confidence_values(text)
        if not values or values[0].value < self.config["min_confidence"]:
            return None
        return values[0].language.iso_code_639_1.name.lower()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            lang = self.detect(message.get(TEXT) or "")
            if lang:
                entity = {"entity": "lang", "value": lang, "start": 0,
                          "end": len(message.get(TEXT)), "extractor": "LanguageEntity"}
                message.set(ENTITIES, [*message.get(ENTITIES, []), entity], add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
