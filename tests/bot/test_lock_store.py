"""bot/lock_store.py in the Rasa venv on a real Redis, configured from bot/endpoints.yml as `rasa run`
does: one holder per conversation at a time, other conversations never wait, a lock given back
only by its holder, and a dead holder's lock gone after its lifetime."""

from __future__ import annotations

import json
import os
import subprocess

from ops.redis_server import RedisServer
from ops.run import rasa_env
from tests.stack import REPO

SCRIPT = r"""
import asyncio, json, time
import redis
from rasa.core.lock_store import LockStore
from rasa.core.utils import AvailableEndpoints

async def main():
    store = LockStore.create(AvailableEndpoints.read_endpoints("endpoints.yml").lock_store)
    out = {"class": type(store).__name__}
    order = []

    async def turn(cid, name, hold):
        async with store.lock(cid):
            order.append(name + " in")
            out.setdefault("key_" + name, store.red.exists("rasa:lock:" + cid))
            await asyncio.sleep(hold)
            order.append(name + " out")

    # a and b share a conversation, c has its own and starts last but never waits
    await asyncio.gather(turn("conv-1", "a", 0.3), turn("conv-1", "b", 0.0),
                         asyncio.sleep(0.05, None), turn("conv-2", "c", 0.0))
    out["order"] = order
    out["left"] = store.red.exists("rasa:lock:conv-1", "rasa:lock:conv-2")

    # a holder whose lock expired (it took longer than its lifetime) does not free the next holder's
    async with store.lock("conv-3", lock_lifetime=0.2):
        await asyncio.sleep(0.3)
        started = time.monotonic()
        async with store.lock("conv-3", lock_lifetime=5):
            out["waited_for_expired"] = round(time.monotonic() - started, 3)
            mine = store.red.get("rasa:lock:conv-3")
    out["next_holder_kept"] = mine is not None

    # a dead holder (never gives it back): the next turn gets it after the lifetime
    dead = store.lock("conv-4", lock_lifetime=0.3)   # kept: a closed generator would give it back
    await dead.__aenter__()
    started = time.monotonic()
    async with store.lock("conv-4"):
        out["waited_for_dead"] = round(time.monotonic() - started, 3)
    print(json.dumps(out))

asyncio.run(main())
"""


def test_one_turn_at_a_time_per_conversation(redis_server: RedisServer) -> None:
    env = {**os.environ, **rasa_env(redis_server.url), "ACTION_ENDPOINT_URL": "http://127.0.0.1:9/webhook",
           "ACTION_TOKEN": "unused"}
    done = subprocess.run([str(REPO / ".venv-rasa" / "bin" / "python"), "-c", SCRIPT], cwd=REPO / "bot",
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["class"] == "RedisMutexLockStore"
    order = out["order"]
    assert order.index("a out") < order.index("b in"), order      # b waited for a
    assert order.index("c out") < order.index("a out"), order     # c did not wait for a
    assert out["key_a"] == 1 and out["left"] == 0                  # Rasa's key while held, none after
    assert out["waited_for_expired"] < 0.1 and out["next_holder_kept"]
    assert 0.15 < out["waited_for_dead"] < 5, out
