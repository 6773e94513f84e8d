"""What the bot did in one turn, read from the Rasa tracker's events, and how it compares with
the script's expectation (docs/dialogues.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

SMALL_TALK = {"utter_greet": "greet", "utter_goodbye": "goodbye", "utter_you_are_welcome": "thanks",
              "utter_iamabot": "bot", "utter_glad": "glad"}
NO_ANSWER = {"utter_dont_know", "utter_out_of_scope"}
ORDER = {"utter_order_status": "found", "utter_order_unknown": "unknown",
         "utter_order_lookup_limited": "limited"}
WAY_OUT = "utter_form_way_out"
CANCELLED = "utter_form_cancelled"
TICKET = "utter_ticket_created"


@dataclass
class Outcome:
    """One turn as the bot played it."""

    refused: bool = False
    answered: str | None = None          # FAQ entry answered directly
    suggested: list[str] = field(default_factory=list)
    responses: list[str] = field(default_factory=list)   # response names, in order
    texts: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    asking: str | None = None            # the form slot the bot waits for after the turn
    lang: str = ""
    late: bool = False

    @property
    def handoff(self) -> bool:
        return "action_handoff" in self.actions

    @property
    def prompt(self) -> str:
        """What the turn ends with: a trap repeats it."""
        return self.responses[-1] if self.responses else (self.texts[-1] if self.texts else "")

    def summary(self) -> str:
        if self.refused:
            return "refused"
        parts = [f"answer {self.answered}"] if self.answered else []
        if self.suggested:
            parts.append("suggest " + ",".join(self.suggested))
        parts += [r for r in self.responses if r not in ("utter_did_that_help", "utter_did_you_mean")]
        if self.handoff:
            parts.append("HANDOFF")
        if self.asking:
            parts.append(f"ask {self.asking}")
        return "; ".join(parts) or "(nothing)"


def read_turn(events: list[dict[str, Any]], slots: dict[str, Any], active_loop: str | None) -> Outcome:
    """The events Rasa logged for one shopper message, and the tracker's state after it."""
    out = Outcome(lang=str(slots.get("lang") or ""))
    band = None
    entry = None
    for event in events:
        kind = event.get("event")
        if kind == "bot":
            meta = event.get("metadata") or {}
            name = meta.get("utter_action") or meta.get("template_name") or ""
            if name:
                out.responses.append(name)
            if event.get("text"):
                out.texts.append(event["text"])
            if name == "utter_did_you_mean":
                out.suggested += [_faq_id(b.get("payload", "")) for b in
                                  (event.get("data") or {}).get("buttons") or ()]
            if name == "utter_order_late":
                out.late = True
        elif kind == "action":
            out.actions.append(event.get("name") or "")
        elif kind == "slot" and event.get("name") == "faq_band":
            band = event.get("value")
        elif kind == "slot" and event.get("name") == "faq_entry":
            entry = event.get("value")
    if band == "answer" and entry:
        out.answered = entry
    out.suggested = [s for s in out.suggested if s]
    if active_loop:
        out.asking = slots.get("requested_slot")
    return out


def _faq_id(payload: str) -> str:
    """`/faq_choice{"faq_id": "x"}` -> x."""
    if "{" not in payload:
        return ""
    try:
        return str(json.loads(payload[payload.index("{"):]).get("faq_id") or "")
    except ValueError:
        return ""


def _ids(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def failures(expect: dict[str, Any], out: Outcome) -> list[str]:
    """Why this turn is wrong (empty: right)."""
    if out.refused != bool(expect.get("refused")):
        return ["refused" if out.refused else "expected a refusal (4xx)"]
    wrong: list[str] = []
    if "any" in expect:
        tried = [failures(alt, out) for alt in expect["any"]]
        if all(tried):
            wrong.append("none of the alternatives: " + " / ".join("; ".join(t) for t in tried))
    if "faq" in expect and out.answered not in _ids(expect["faq"]):
        wrong.append(f"expected answer {expect['faq']}")
    if "suggest" in expect and (out.answered or not set(out.suggested) & set(_ids(expect["suggest"]))):
        wrong.append(f"expected suggestions with {expect['suggest']}")
    if "small_talk" in expect and expect["small_talk"] not in {SMALL_TALK.get(r) for r in out.responses}:
        wrong.append(f"expected small talk {expect['small_talk']}")
    if expect.get("no_answer") and (out.answered or out.suggested or out.handoff
                                     or not NO_ANSWER & set(out.responses)):
        wrong.append("expected an honest no-answer")
    if "ask" in expect and out.asking != expect["ask"]:
        wrong.append(f"expected to ask {expect['ask']}")
    if expect.get("way_out") and not any(r.startswith(WAY_OUT) for r in out.responses):
        wrong.append("expected a way out of the form")
    if expect.get("cancelled") and (CANCELLED not in out.responses or out.asking):
        wrong.append("expected the form cancelled")
    if expect.get("handoff") and not out.handoff:
        wrong.append("expected a handoff")
    if expect.get("ticket") and TICKET not in out.responses:
        wrong.append("expected a ticket")
    if "order" in expect and expect["order"] not in {ORDER.get(r) for r in out.responses} | (
            {"found"} if out.late else set()):
        wrong.append(f"expected order {expect['order']}")
    if expect.get("late") and not out.late:
        wrong.append("expected the order called late")
    if "lang" in expect and out.lang != expect["lang"]:
        wrong.append(f"expected {expect['lang']} replies")
    said = " ".join(out.texts).lower()
    for text in _ids(expect.get("says")):
        if text.lower() not in said:
            wrong.append(f"expected to say {text!r}")
    return wrong
