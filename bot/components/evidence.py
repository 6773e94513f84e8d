"""Handoff intents need evidence: `complaint` and `ask_human` stand only when the message says so.

DIET learns from character n-grams, so a three-word follow-up can look like a complaint
("et en Suisse ?" shares "suis" with "je suis furieux") and would hand a shopper over who only
asked a question. This component runs after the FallbackClassifier: a handoff intent whose
message has none of its cues (bot/evidence.yml) becomes `nlu_fallback`, which the bot answers
from the FAQ; an unsure message with strong anger words becomes `complaint`.

Runs in the Rasa venv (Python 3.10): imports nothing from the gateway.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any

import yaml
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.training_data.message import Message

FALLBACK = "nlu_fallback"
GATED = ("ask_human", "complaint", "stop")
RECOVERED = ("ask_human", "complaint")   # not `stop`: "annuler ma commande" is an FAQ question
UNSURE = (FALLBACK, "faq")
LEXICON = Path(__file__).resolve().parent.parent / "evidence.yml"


def fold(text: str) -> str:
    """Lower case without accents, apostrophes unified: cues match what shoppers type."""
    text = text.lower().replace("’", "'").replace("œ", "oe").replace("æ", "ae")
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c))


def cue_pattern(cues: list[str]) -> re.Pattern[str]:
    """One regex matching any cue at a word start (emoji anywhere)."""
    words = [re.escape(fold(c)) for c in cues if c[:1].isalnum()]
    others = [re.escape(c) for c in cues if not c[:1].isalnum()]
    alternatives = ([rf"(?<![\w])(?:{'|'.join(words)})"] if words else []) + others
    return re.compile("|".join(alternatives) or r"(?!)")


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class EvidenceGate(GraphComponent, IntentClassifier):
    @classmethod
    def required_components(cls) -> list[type]:
        return [IntentClassifier]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # recover_min_confidence: an unsure message (nlu_fallback) takes a gated intent that DIET
        # ranked first with at least this confidence, when its words say so
        return {"lexicon": str(LEXICON), "recover_min_confidence": 0.5}

    def __init__(self, config: dict[str, Any]) -> None:
        data = yaml.safe_load(Path(config.get("lexicon") or LEXICON).read_text(encoding="utf-8"))
        self.cues = {name: cue_pattern(list(data.get(name) or [])) for name in (*GATED, "strong_complaint")}
        self.component_config = {**self.get_default_config(), **config}

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> EvidenceGate:
        return cls(config)

    def relabel(self, text: str, intent: str, runner_up: dict[str, Any] | None = None) -> str | None:
        """The intent this message should have instead, or None to keep it. `runner_up` is
        DIET's own best guess when the FallbackClassifier overruled it."""
        folded = fold(text)
        if text.startswith("/"):          # a button's payload says what it means
            return None
        if intent in GATED and not self.cues[intent].search(folded):
            return FALLBACK
        guess = (runner_up or {}).get("name")
        if (intent == FALLBACK and guess in RECOVERED and self.cues[guess].search(folded)
                and float((runner_up or {}).get("confidence") or 0) >= self.component_config[
                    "recover_min_confidence"]):
            return guess
        if intent in UNSURE and self.cues["strong_complaint"].search(folded):
            return "complaint"
        return None

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            intent = (message.get("intent") or {}).get("name")
            text = message.get("text") or ""
            ranking = message.get("intent_ranking") or []
            runner_up = next((r for r in ranking if r.get("name") != FALLBACK), None)
            new = self.relabel(text, intent, runner_up) if intent else None
            if new is None:
                continue
            confidence = float((message.get("intent") or {}).get("confidence") or 0.0)
            label = {"name": new, "confidence": confidence}
            message.set("intent", label, add_to_output=True)
            ranking = [r for r in message.get("intent_ranking") or [] if r.get("name") != new]
            message.set("intent_ranking", [label, *ranking], add_to_output=True)
        return messages
