"""bot/tracker_window.py in the Rasa venv: a long tracker is cut to its last turns without
changing what the bot knows (slots, the active form, a pause, the latest message), a short one
is left alone, and the store writes the window to Redis."""

from __future__ import annotations

import json
import os
import subprocess

from ops.run import rasa_env
from tests.stack import REPO

SCRIPT = r"""
import asyncio, json, sys
sys.path.insert(0, "bot")
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (ActionExecuted, ActiveLoop, BotUttered, ConversationPaused,
                                     SlotSet, UserUttered)
from rasa.shared.core.trackers import DialogueStateTracker
import tracker_window

domain = Domain.load("bot/domain.yml")

def turns(n, first=0):
    events = []
    for i in range(first, first + n):
        events += [ActionExecuted("action_listen"), UserUttered(f"question {i}", {"name": "faq"}),
                   SlotSet("faq_misses", i % 3), ActionExecuted("action_answer_faq"),
                   BotUttered(f"answer {i}"), SlotSet("faq_band", "answer")]
    return events

def facts(t):
    return {"slots": t.current_slot_values(), "loop": t.active_loop_name, "paused": t.is_paused(),
            "latest": t.latest_message.text, "events": len(t.events),
            "users": sum(isinstance(e, UserUttered) for e in t.events)}

start = [ActionExecuted("action_session_start"), SlotSet("lang", "en"),
         SlotSet("ticket_email", "a@b.example")]
long_events = start + turns(25) + [ActiveLoop("ticket_form"), SlotSet("requested_slot", "ticket_message")] \
    + turns(20, 25) + [ConversationPaused()] + turns(3, 45)
long = DialogueStateTracker.from_events("c-long", long_events, domain.slots)
short = DialogueStateTracker.from_events("c-short", start + turns(5), domain.slots)
cut = tracker_window.window(long)
out = {"long": facts(long), "cut": facts(cut), "short_same": tracker_window.window(short) is short}

class FakeRedis:
    def __init__(self): self.data = {}
    def set(self, key, value, ex=None): self.data[key] = (value, ex)

store = tracker_window.WindowedRedisTrackerStore(domain, record_exp=60)
store.red = FakeRedis()
asyncio.run(store.save(long))
(key, (value, ex)), = store.red.data.items()
out["stored"] = {"key": key, "ex": ex, "events": len(json.loads(value)["events"])}
print(json.dumps(out))
"""


def test_a_long_tracker_keeps_its_last_turns_and_everything_the_bot_knows() -> None:
    out = subprocess.run([str(REPO / ".venv-rasa" / "bin" / "python"), "-c", SCRIPT],
                         cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    long, cut = result["long"], result["cut"]
    assert long["events"] > 120 and cut["events"] < 60, (long["events"], cut["events"])
    assert cut["users"] == 6                                  # the last KEEP_TURNS shopper turns
    for fact in ("slots", "loop", "paused", "latest"):        # what the bot knows did not change
        assert cut[fact] == long[fact], fact
    assert long["loop"] == "ticket_form" and long["paused"] is True
    assert long["slots"]["lang"] == "en" and long["slots"]["ticket_email"] == "a@b.example"
    assert result["short_same"] is True
    assert result["stored"] == {"key": "tracker:c-long", "ex": 60, "events": cut["events"]}


def test_rasa_loads_the_windowed_store_from_endpoints_yml() -> None:
    """Rasa falls back to an in-memory store, with a mere warning, when a custom store's module
    path does not import: each Rasa server would then keep its own conversations."""
    script = ("from rasa.core.tracker_store import TrackerStore\n"
              "from rasa.core.utils import AvailableEndpoints\n"
              "from rasa.shared.core.domain import Domain\n"
              "endpoints = AvailableEndpoints.read_endpoints('endpoints.yml')\n"
              "print(type(TrackerStore.create(endpoints.tracker_store, domain=Domain.empty())).__name__)")
    env = {**os.environ, **rasa_env("redis://127.0.0.1:9/0"), "ACTION_ENDPOINT_URL": "http://127.0.0.1:9/webhook",
           "ACTION_TOKEN": "unused"}
    out = subprocess.run([str(REPO / ".venv-rasa" / "bin" / "python"), "-c", script], cwd=REPO / "bot",
                         capture_output=True, text=True, timeout=300, check=False, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "WindowedRedisTrackerStore"
