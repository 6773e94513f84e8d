"""Driving scripted conversations through a running gateway (`/api/chat/...`, as the widget
does) and reading each turn's outcome from Rasa's tracker."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import redis
import yaml

from kit.keys import LOCK, PENDING, PRESENCE
from tests.stack import OPEN_ALWAYS, REPO, Gateway, Rasa, closed_today, shop_yaml, stack

from .outcome import Outcome, failures, read_turn
from .script import Dialogue

TURN_TIMEOUT_S = 60
TRAP_TURNS = 3
# every scripted shopper comes from one address and looks the same few orders up: the lookup
# budgets (against guessing) would otherwise refuse the later conversations
SHOP_EXTRA = {"order_lookups": {"per_client": 10000, "per_order": 10000, "offer_after": yaml.safe_load(
    (REPO / "config" / "shop.yml").read_text(encoding="utf-8"))["order_lookups"]["offer_after"]}}


def orders_yaml(today: date) -> str:
    """The orders docs/dialogues.md promises, dated from `today`."""
    day = timedelta(days=1)
    orders = {
        "AL-200001": {"status": "shipped", "carrier": "Colissimo", "eta": str(today + 2 * day),
                      "tracking_url": "https://www.laposte.fr/outils/suivre-vos-envois?code=6A00000000001",
                      "email": "anna.martin@exemple.fr", "postcode": "69003"},
        "AL-200002": {"status": "shipped", "carrier": "Chronopost", "eta": str(today - 3 * day),
                      "email": "john.smith@example.com", "postcode": "75011"},
        "AL-200003": {"status": "delivered", "carrier": "Mondial Relay", "email": "paul.martin@exemple.fr",
                      "postcode": "33000"},
        "AL-200004": {"status": "confirmed", "email": "lea.bernard@exemple.fr", "postcode": "13006"},
    }
    return yaml.safe_dump({"orders": orders}, sort_keys=False)


@dataclass
class Stage:
    """A running gateway + Rasa for one kind of shop (open or closed)."""

    gateway: Gateway
    bot: Rasa
    redis_url: str

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.gateway.url, timeout=60)
        self.redis = redis.Redis.from_url(self.redis_url, decode_responses=True)

    def agents(self, online: bool) -> None:
        if online:
            self.redis.zadd(PRESENCE, {"agent-dialogues": time.time() + 3600})
        else:
            self.redis.zrem(PRESENCE, "agent-dialogues")


@contextmanager
def stages(redis_url: str, tmp: Path, situations: set[str], *, today: date | None = None,
           index_dir: Path | None = None) -> Iterator[dict[str, Stage]]:
    """One stack per kind of shop the situations need: closed (out of hours) and open (busy or
    with an advisor online). `index_dir`: an FAQ index folder to share with other stacks."""
    orders = tmp / "orders.yml"
    orders.write_text(orders_yaml(today or date.today()), encoding="utf-8")
    env = {"ORDERS_FILE": str(orders)}
    out: dict[str, Stage] = {}
    with ExitStack() as stack_of:
        for kind, weekly in (("closed", closed_today()), ("open", OPEN_ALWAYS)):
            wanted = {"closed"} if kind == "closed" else {"busy", "agent"}
            if not wanted & situations:
                continue
            (tmp / kind).mkdir(parents=True, exist_ok=True)
            shop = tmp / f"shop-{kind}.yml"
            shop.write_text(shop_yaml(weekly, SHOP_EXTRA), encoding="utf-8")
            gw, bot = stack_of.enter_context(stack(redis_url, tmp / kind, shop_config=shop,
                                                   index_dir=index_dir or tmp / "index", extra_env=env))
            for situation in wanted:
                out[situation] = Stage(gw, bot, redis_url)
        yield out


@dataclass
class TurnResult:
    say: str
    expect: dict[str, Any]
    outcome: Outcome
    wrong: list[str]

    @property
    def false_handoff(self) -> bool:
        return self.outcome.handoff and not _expects_handoff(self.expect)


def _expects_handoff(expect: dict[str, Any]) -> bool:
    return bool(expect.get("handoff")) or any(_expects_handoff(a) for a in expect.get("any") or ())


@dataclass
class DialogueResult:
    dialogue: Dialogue
    turns: list[TurnResult] = field(default_factory=list)
    error: str = ""

    @property
    def right(self) -> bool:
        return not self.error and all(not t.wrong for t in self.turns)

    @property
    def trapped(self) -> bool:
        """Three turns in a row answered by nothing but the same form prompt (a turn that also
        answered a question asked mid-form is not a re-prompt)."""
        run, last = 0, None
        for turn in self.turns:
            helped = turn.outcome.answered or turn.outcome.suggested
            prompt = turn.outcome.prompt if turn.outcome.asking and not helped else None
            run = run + 1 if prompt and prompt == last else 1
            last = prompt
            if prompt and run >= TRAP_TURNS:
                return True
        return False


def _wait_routed(stage: Stage, cid: str) -> None:
    """Until the gateway has routed every queued message of the conversation."""
    deadline = time.monotonic() + TURN_TIMEOUT_S
    while time.monotonic() < deadline:
        if not stage.redis.llen(PENDING.format(cid=cid)) and not stage.redis.exists(LOCK.format(cid=cid)):
            return
        time.sleep(0.05)
    raise TimeoutError(f"conversation {cid}: a message not routed after {TURN_TIMEOUT_S} s")


def run_dialogue(stage: Stage, dialogue: Dialogue) -> DialogueResult:
    """Plays the script as a widget on a page in the conversation's language would."""
    result = DialogueResult(dialogue)
    stage.agents(dialogue.situation == "agent")
    lang = dialogue.lang
    res = stage.http.post("/api/chat/conversations", json={"lang": lang})
    res.raise_for_status()
    cid = res.json()["conversation_id"]
    seen = 0
    for n, turn in enumerate(dialogue.turns, 1):
        sent = stage.http.post(f"/api/chat/conversations/{cid}/messages",
                               json={"text": turn.say, "message_id": f"m{n}-{uuid.uuid4().hex[:6]}",
                                     "lang": lang})
        if 400 <= sent.status_code < 500:
            outcome = Outcome(refused=True)
        else:
            sent.raise_for_status()
            _wait_routed(stage, cid)
            tracker = stage.bot.tracker(cid)
            events = tracker.get("events") or []
            outcome = read_turn(events[seen:], tracker.get("slots") or {},
                                (tracker.get("active_loop") or {}).get("name"))
            seen = len(events)
        result.turns.append(TurnResult(turn.say, turn.expect, outcome, failures(turn.expect, outcome)))
    return result


def run_all(stages_by_situation: dict[str, Stage], dialogues: list[Dialogue], *,
            progress: bool = False) -> list[DialogueResult]:
    results = []
    for d in dialogues:
        try:
            results.append(run_dialogue(stages_by_situation[d.situation], d))
        except (httpx.HTTPError, TimeoutError) as exc:
            results.append(DialogueResult(d, error=str(exc) or type(exc).__name__))
        if progress:
            r = results[-1]
            print(f"  {'ok ' if r.right else 'BAD'} {d.id}", flush=True)
    return results
