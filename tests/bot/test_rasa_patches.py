"""bot/rasa_patches.py in the Rasa venv: the compiled check of action server responses gives
the verdicts and the error message of Rasa's own `jsonschema.validate`, on good and bad replies."""

from __future__ import annotations

import json
import subprocess

from tests.stack import REPO

SCRIPT = r"""
import json, sys
sys.path.insert(0, "bot")
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.utils.endpoints import EndpointConfig
action = RemoteAction("action_answer_faq", EndpointConfig("http://127.0.0.1:9/webhook"))
samples = json.loads(sys.argv[1])

def verdicts():
    out = []
    for sample in samples:
        try:
            out.append(["ok", action._validate_action_result(sample)])
        except ValidationError as exc:
            out.append(["refused", exc.message])
    return out

before = verdicts()
import rasa_patches
rasa_patches.install()
print(json.dumps({"before": before, "after": verdicts()}))
"""

SAMPLES = [
    {"events": [], "responses": []},
    {"events": [{"event": "slot", "name": "lang", "value": "en"}], "responses": [{"text": "hi"}]},
    {"events": "not a list", "responses": []},
    {"events": [{"no_event_name": 1}], "responses": []},
    {"responses": [{"text": "no events at all"}]},
]


def test_the_compiled_validation_agrees_with_rasas_own() -> None:
    out = subprocess.run([str(REPO / ".venv-rasa" / "bin" / "python"), "-c", SCRIPT, json.dumps(SAMPLES)],
                         cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["after"] == result["before"]                  # same verdicts, same messages
    verdicts = [v[0] for v in result["after"]]
    assert verdicts[:3] == ["ok", "ok", "refused"], verdicts    # the samples do test both ways
    refused = [v[1] for v in result["after"] if v[0] == "refused"]
    assert all("Failed to validate Action server response" in message for message in refused)
