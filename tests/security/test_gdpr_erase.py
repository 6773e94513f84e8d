"""Issue 14, "GDPR erase deletes other customers' data": erase built Redis SCAN patterns from
stored ids (`*{cid}*`), so a conversation or sender id holding `*`, `?`, `[a-z]` or `\\` (a Rasa
sender id, a ticket's conversation id: both come from outside), or an id that is a prefix of
another one, made the erase of one e-mail delete other customers' transcripts, Rasa trackers and
analytics facts.

On the real Redis: four ordinary customers, then a victim whose conversation and sender ids are
hostile, each with a transcript, a handoff, a ticket, analytics facts and a survey comment (the
real desk, transcripts and analytics recorder) and a Rasa tracker and lock written by Rasa 3.6's
own stores from bot/endpoints.yml. Erasing the victim's e-mail must delete every key the victim
added and change nothing else."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis

from analytics import events as ev
from analytics.log import EventLog
from analytics.recorder import Recorder
from conversation.message import Message
from conversation.transcript import Transcripts
from handoff.desk import HandoffRequest, HelpDesk, Ticket
from handoff.privacy import Privacy, glob_escape
from ops.redis_server import RedisServer
from ops.run import rasa_env

REPO = Path(__file__).resolve().parents[2]
RASA_PYTHON = REPO / ".venv-rasa" / "bin" / "python"
SECRET = "gdpr-test-secret"
VICTIM = "victim@example.org"
# ordinary ids a glob or substring built from a hostile one matches: "c-12" contains "c-1",
# "c-ab" is what the glob "c-a\b" means, and `*`, `?`, `[a-z]` match them all
OTHERS = ("c-12", "c-ab", "c-other", "q")
HOSTILE = ("*", "?", "[a-z]", "\\", "c-a\\b", "c-1")
HOSTILE_NAMES = ["star", "question", "class", "backslash", "escape", "prefix"]

# Rasa's tracker store and lock store, configured from bot/endpoints.yml as `rasa run` does, save a
# tracker and take a lock for each sender id read from stdin (held: a turn cut off mid-way).
RASA_WRITER = """
import asyncio, json, os, sys
from rasa.core.lock_store import LockStore
from rasa.core.tracker_store import TrackerStore
from rasa.core.utils import AvailableEndpoints
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

async def main(senders):
    endpoints = AvailableEndpoints.read_endpoints("endpoints.yml")
    trackers = TrackerStore.create(endpoints.tracker_store, domain=Domain.empty())
    locks = LockStore.create(endpoints.lock_store)
    held = []
    for sender in senders:
        await trackers.save(DialogueStateTracker.from_events(sender, [UserUttered("Où est mon colis ?")]))
        held.append(locks.lock(sender))
        await held[-1].__aenter__()
    os._exit(0)   # a crash: the locks are never given back (a clean exit would close their contexts)

asyncio.run(main(json.loads(sys.stdin.read())))
"""


def rasa_conversations(redis_url: str, senders: list[str]) -> None:
    if not RASA_PYTHON.exists():
        pytest.fail(f"{RASA_PYTHON} missing: `make setup` creates .venv-rasa")
    env = {**os.environ, **rasa_env(redis_url), "ACTION_ENDPOINT_URL": "http://127.0.0.1:9/webhook",
           "ACTION_TOKEN": "unused"}
    done = subprocess.run([str(RASA_PYTHON), "-c", RASA_WRITER], cwd=REPO / "bot", input=json.dumps(senders),
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


async def customer(client: aioredis.Redis, *, cid: str, sender: str, email: str, tag: str) -> None:
    """What the gateway keeps about one shopper: transcript, handoff, ticket, analytics, comment.
    Analytics refuses ids outside [A-Za-z0-9_.:@+/-] (logged), as in production."""
    recorder = Recorder(EventLog(client, secret=SECRET))
    transcripts, desk = Transcripts(client), HelpDesk(client, recorder)
    await transcripts.open("web", sender, cid=cid, lang="fr")
    question = Message(channel="web", sender=sender, conversation_id=cid, text="Où est mon colis ?")
    answer = Message(channel="web", sender=sender, conversation_id=cid, text="Il arrive demain.", role="bot")
    await transcripts.append(question)
    await transcripts.append(answer)
    recorder.emit(ev.message_in, conversation=cid, channel="web", lang="fr", customer=f"web:{sender}",
                  reason="delivery/tracking", id=f"in:web:{question.message_id}")
    recorder.emit(ev.message_out, conversation=cid, role="bot", id=f"out:{answer.message_id}")
    await desk.request_handoff(HandoffRequest(conversation_id=cid, lang="fr", reason="delivery/tracking",
                                              summary="colis en retard", trigger="asked"))
    ticket = Ticket(conversation_id=cid, email=email, order_number="AL-1", message="Toujours rien",
                    lang="fr", reason="delivery/tracking", due="2030-01-01T12:00:00+01:00")
    tid = await desk.create_ticket(ticket, request_key=f"bot:{cid}:1")
    recorder.emit(ev.ticket_created, ticket=tid, channel="web", lang="fr", conversation=cid,
                  customer=f"email:{email}", reason="delivery/tracking", id=f"ticket:{tid}")
    recorder.emit(ev.survey_comment, survey="csat", score=2, verbatim=f"Trop lent, signé {tag}",
                  conversation=cid, customer=f"web:{sender}", id=f"why:{question.message_id}")
    await recorder.flush()


def snapshot(server: RedisServer) -> dict[str, bytes]:
    """Every key with its serialised value (DUMP: any type, compared byte for byte)."""
    with server.client() as client:
        return {key.decode(): client.dump(key) for key in client.scan_iter(count=1000)}


async def fill(url: str, customers: list[tuple[str, str, str]]) -> None:
    """(id, e-mail, tag) per customer; the id is both the conversation and the sender id."""
    client = aioredis.Redis.from_url(url)
    try:
        for cid, email, tag in customers:
            await customer(client, cid=cid, sender=cid, email=email, tag=tag)
    finally:
        await client.aclose()


async def erase(url: str, email: str) -> dict[str, int]:
    client = aioredis.Redis.from_url(url)
    try:
        return await Privacy(client, analytics_secret=SECRET).erase(email)
    finally:
        await client.aclose()


@pytest.mark.parametrize("hostile", HOSTILE, ids=HOSTILE_NAMES)
def test_erasing_a_hostile_id_touches_no_other_customer(redis_server: RedisServer, redis_client: redis.Redis,
                                                        hostile: str) -> None:
    asyncio.run(fill(redis_server.url, [(cid, f"other{n}@example.org", f"other{n}")
                                        for n, cid in enumerate(OTHERS)]))
    rasa_conversations(redis_server.url, list(OTHERS))
    before = snapshot(redis_server)
    asyncio.run(fill(redis_server.url, [(hostile, VICTIM, "victim")]))
    rasa_conversations(redis_server.url, [hostile])
    with_victim = snapshot(redis_server)
    victims_keys = set(with_victim) - set(before)
    assert {f"rasa:tracker:{hostile}", f"rasa:lock:{hostile}", f"support:conv:{hostile}",
            f"support:conv:{hostile}:log"} <= victims_keys

    counts = asyncio.run(erase(redis_server.url, VICTIM.upper()))

    assert counts["tickets"] == 1 and counts["conversations"] == 1
    after = snapshot(redis_server)
    lost = sorted(set(before) - set(after))
    assert not lost, f"erasing {hostile!r} deleted other customers' keys: {lost}"
    untouched = {k for k in before if before[k] == with_victim[k]}   # keys the victim never wrote to
    changed = sorted(k for k in untouched if after[k] != before[k])
    assert not changed, f"erasing {hostile!r} changed other customers' keys: {changed}"
    assert not victims_keys & set(after), f"the victim's keys survived: {sorted(victims_keys & set(after))}"
    for cid in OTHERS:
        for key in (f"rasa:tracker:{cid}", f"rasa:lock:{cid}", f"support:conv:{cid}:log",
                    f"support:analytics:conv:{cid}", f"support:handoff:{cid}"):
            assert redis_client.exists(key), f"{key} was erased with {hostile!r}"
        assert redis_client.zscore("support:handoff:queue", cid) is not None
    stream = [fields for _, fields in redis_client.xrange("support:analytics:events")]
    assert {f.get("conversation") for f in stream} >= set(OTHERS)
    comments = "".join(redis_client.zrange("support:analytics:verbatims", 0, -1))
    assert "victim" not in comments and all(f"signé other{n}" in comments for n in range(len(OTHERS)))


@pytest.mark.parametrize("hostile", HOSTILE, ids=HOSTILE_NAMES)
def test_glob_escape_matches_only_the_literal_key(redis_client: redis.Redis, hostile: str) -> None:
    keys = [f"support:conv:{x}" for x in (*OTHERS, hostile, "c-1x", "c-a\\bc")]
    for key in keys:
        redis_client.set(key, "1")
    found = list(redis_client.scan_iter(match="support:conv:" + glob_escape(hostile), count=1000))
    assert found == [f"support:conv:{hostile}"]
