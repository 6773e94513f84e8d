"""The Rasa project itself: data validates, and the conversation tests pass (FR and EN)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from ops.run import RASA_QUIET
from tests.stack import RASA, REPO

BOT = REPO / "bot"


def run_rasa(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(RASA), *args], cwd=BOT, capture_output=True, text=True, timeout=timeout,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(REPO / "var"), **RASA_QUIET})


UNUSED_UTTERANCE = re.compile(r"The utterance '(\w+)' is not used in any story or rule")
INTENT_WITHOUT_EXAMPLES = re.compile(r"The intent '(\w+)' is listed in the domain file, but is not found")
WARNING = re.compile(r"UserWarning: (.+)")


def explained(warning: str, actions_code: str, form_slots: set[str]) -> bool:
    """Rasa's validator only sees stories and rules: responses a custom action or a form
    sends, and intents that only button payloads carry, are reported although used."""
    if m := UNUSED_UTTERANCE.search(warning):
        name = m.group(1)
        return f'"{name}"' in actions_code or name.removeprefix("utter_ask_") in form_slots
    if m := INTENT_WITHOUT_EXAMPLES.search(warning):
        # a button payload, written out or built by conversation.payloads.payload("intent", ...)
        return f"/{m.group(1)}" in actions_code or f'payload("{m.group(1)}"' in actions_code
    return False


def test_only_explained_warnings_pass() -> None:
    code = 'dispatcher.utter_message(response="utter_dont_know")  payload="/faq_choice"'
    unused = "The utterance '{}' is not used in any story or rule."
    assert explained(unused.format("utter_dont_know"), code, set())
    assert explained(unused.format("utter_ask_ticket_email"), "", {"ticket_email"})
    assert explained("The intent 'faq_choice' is listed in the domain file, but is not found", code, set())
    built = 'payloads.payload("faq_choice", faq_id=h.id)'
    assert explained("The intent 'faq_choice' is listed in the domain file, but is not found", built, set())
    assert not explained("The intent 'csat' is listed in the domain file, but is not found", built, set())
    assert not explained(unused.format("utter_typo"), code, {"ticket_email"})
    assert not explained("Found inconsistent rules or stories.", code, set())


def test_training_data_validates() -> None:
    res = run_rasa("data", "validate")
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    actions_code = "\n".join(p.read_text(encoding="utf-8") for p in (BOT / "actions").glob("*.py"))
    domain = yaml.safe_load((BOT / "domain.yml").read_text(encoding="utf-8"))
    form_slots = {slot for form in domain["forms"].values() for slot in form["required_slots"]}
    warnings = [m.group(1) for m in WARNING.finditer(res.stdout + res.stderr)]
    unexplained = [w for w in warnings if not explained(w, actions_code, form_slots)]
    assert not unexplained, unexplained


def test_conversation_stories_pass(bot_model: Path, tmp_path: Path) -> None:
    # `rasa test` (not `test core`) also checks each story message's intent and entities;
    # its NLU part runs on the held-out examples of bench/data (never trained on)
    res = run_rasa("test", "--stories", "tests", "--nlu", str(REPO / "bench" / "data" / "intents_test.yml"),
                   "--model", str(bot_model), "--out", str(tmp_path))
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    failed = (tmp_path / "failed_test_stories.yml").read_text(encoding="utf-8")
    assert "- story:" not in failed, failed
