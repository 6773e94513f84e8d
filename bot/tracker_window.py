"""Rasa's tracker store, bounded: a conversation's cost per turn stays flat as it grows.

Rasa 3.6 loads, replays and saves a conversation's whole tracker on every turn, and ships it
whole to the action server (the gateway) on every custom action: turn 50 cost several times
turn 1. The bot needs only the recent turns (rules look a few turns back, forms keep their
state in slots), and the gateway keeps the full transcript for shoppers, agents and GDPR. So
once a tracker passes MAX_EVENTS, this store keeps the last KEEP_TURNS shopper turns, preceded
by what the dropped part left behind: every slot that differs from its initial value, the
active form, and a pause (a conversation with an agent).

Saving writes the tracker as it is: Rasa's own store first re-read and re-parsed the stored
tracker to merge older sessions back in (a second full parse per turn); older sessions are the
gateway's to keep.

Runs in the Rasa venv (Python 3.10): imports nothing from the gateway.
"""

from __future__ import annotations

import copy
from typing import Any

from rasa.core.tracker_store import RedisTrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    ConversationPaused,
    Event,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.slots import Slot
from rasa.shared.core.trackers import DialogueStateTracker

MAX_EVENTS = 80    # ~12 shopper turns of this bot (6-7 events a turn; was 120, see decisions.md)
KEEP_TURNS = 6     # what stays once trimmed: rules and forms look back one or two turns


def window(tracker: DialogueStateTracker, max_events: int = MAX_EVENTS,
           keep_turns: int = KEEP_TURNS) -> DialogueStateTracker:
    """The tracker itself when short enough, else its last `keep_turns` shopper turns after the
    state the older events had built (slots, active form, pause)."""
    events = list(tracker.events)
    if len(events) <= max_events:
        return tracker
    cut = _cut(events, keep_turns)
    if cut <= 0:
        return tracker
    initial = _initial(tracker)   # each tracker built from it copies the slots it is given
    before = DialogueStateTracker.from_events(tracker.sender_id, events[:cut], initial)
    at = events[cut].timestamp
    prefix: list[Event] = [SlotSet(slot.name, slot.value, timestamp=at)
                           for slot in before.slots.values() if slot.value != slot.initial_value]
    if before.active_loop_name:
        prefix.append(ActiveLoop(before.active_loop_name, timestamp=at))
    if before.is_paused():
        prefix.append(ConversationPaused(timestamp=at))
    return DialogueStateTracker.from_events(tracker.sender_id, prefix + events[cut:], initial,
                                            tracker._max_event_history)


def _initial(tracker: DialogueStateTracker) -> list[Slot]:
    """The tracker's slots as a new conversation has them (its own hold the latest values)."""
    slots = [copy.copy(slot) for slot in tracker.slots.values()]
    for slot in slots:
        slot.reset()
    return slots


def _cut(events: list[Event], keep_turns: int) -> int:
    """Index of the `action_listen` before the `keep_turns`-th last shopper message (a turn
    boundary), or 0 when there is none."""
    seen = 0
    for i in range(len(events) - 1, 0, -1):
        if isinstance(events[i], UserUttered):
            seen += 1
            if seen == keep_turns:
                previous = events[i - 1]
                if isinstance(previous, ActionExecuted) and previous.action_name == ACTION_LISTEN_NAME:
                    return i - 1
                return 0
    return 0


class WindowedRedisTrackerStore(RedisTrackerStore):
    """`tracker_store: type: tracker_window.WindowedRedisTrackerStore` (endpoints.yml)."""

    async def save(self, tracker: DialogueStateTracker, timeout: Any = None) -> None:
        await self.stream_events(tracker)   # no event broker is configured: returns at once
        kept = window(tracker)
        self.red.set(self.key_prefix + tracker.sender_id, self.serialise_tracker(kept),
                     ex=timeout or self.record_exp)
