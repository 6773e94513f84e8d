"""Crashes, for real: two gateway processes and a Rasa server on one Redis (AOF, fsync always),
then `kill -9` of a gateway during a conversation, of Rasa, and of Redis.

- a gateway dies: the widget reconnects to the other one with its conversation id and resends
  what it was not sure about; every acknowledged message is in the transcript exactly once, in
  order, and gets its answer (what the dead process acknowledged but never routed is swept);
- Rasa dies: FAQ answers go on in degraded mode and /readyz says so; once Rasa is back, the
  same conversation talks to the bot again;
- Redis dies: after a restart every acknowledged message and ticket is still there.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ops import proc
from ops.ports import free_port
from ops.redis_server import RedisServer
from tests.stack import RASA_TOKEN, Gateway, gateway, rasa

from .conftest import Shopper

pytestmark = pytest.mark.timeout(600)


@dataclass
class Cluster:
    redis: RedisServer
    a: Gateway
    b: Gateway
    start_rasa: Callable[[], Any]
    rasa: Any = None   # the running tests.stack.Rasa


@pytest.fixture(scope="module")
def cluster(bot_model: Path, shared_index: Path, open_shop: Path,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("faults")
    rasa_port = free_port()
    env = {"RASA_URL": f"http://127.0.0.1:{rasa_port}", "RASA_TOKEN": RASA_TOKEN}
    with ExitStack() as stack:
        redis = stack.enter_context(RedisServer(port=free_port(), data_dir=tmp / "redis", use_env=False,
                                                appendfsync="always"))
        a = stack.enter_context(gateway(redis.url, tmp, shop_config=open_shop, index_dir=shared_index,
                                        extra_env=env))
        b = stack.enter_context(gateway(redis.url, tmp, shop_config=open_shop, index_dir=shared_index,
                                        extra_env=env))

        def start_rasa() -> Any:   # actions on gateway B: the one that survives
            cluster.rasa = stack.enter_context(rasa(redis.url, b.url, b.token, tmp, port=rasa_port))
            return cluster.rasa

        cluster = Cluster(redis, a, b, start_rasa)
        start_rasa()
        yield cluster


def ws(gw: Gateway, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"lang": "fr", **params}.items())
    return gw.url.replace("http", "ws") + "/ws/chat?" + query


def history(gw: Gateway, cid: str) -> list[dict[str, Any]]:
    res = httpx.get(f"{gw.url}/api/chat/conversations/{cid}/messages", timeout=10)
    assert res.status_code == 200, res.text
    return res.json()["messages"]  # type: ignore[no-any-return]


def wait_for(check: Callable[[], Any], what: str, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def send(shopper: Shopper, text: str, mid: str) -> dict[str, Any]:
    shopper.ws.send(json.dumps({"type": "message", "text": text, "message_id": mid}))
    return shopper.wait(lambda f: f.get("type") in ("ack", "error") and f.get("message_id") == mid)


def test_a_gateway_killed_mid_conversation_loses_nothing(cluster: Cluster) -> None:
    questions = [f"Question {i} : où est mon colis ?" for i in range(1, 6)]
    first = Shopper(ws(cluster.a))
    cid = first.conversation_id
    for i, q in enumerate(questions[:3], 1):               # acknowledged by gateway A
        assert send(first, q, f"m{i}")["type"] == "ack"
    proc.kill(cluster.a.process)                           # kill -9, bot turns possibly in flight

    again = Shopper(ws(cluster.b, conversation_id=cid))     # the widget reconnects elsewhere
    assert again.conversation_id == cid
    resent = send(again, questions[2], "m3")               # not sure m3 was taken: sent again
    assert resent["type"] == "ack" and resent["duplicate"] is True
    for i, q in enumerate(questions[3:], 4):
        assert send(again, q, f"m{i}")["type"] == "ack"

    client = cluster.redis.client()

    def answered() -> list[dict[str, Any]] | None:   # nothing left unrouted, one answer at least each
        messages = history(cluster.b, cid)
        done = client.llen(f"support:conv:{cid}:pending") == 0 and messages[-1]["role"] == "bot"
        return messages if done and sum(m["role"] == "bot" for m in messages) >= len(questions) else None

    messages = wait_for(answered, "an answer to every acknowledged question (swept after the crash)")
    assert [m["text"] for m in messages if m["role"] == "shopper"] == questions   # once each, in order
    again.close()


def test_rasa_killed_then_back_faq_goes_on_in_degraded_mode(cluster: Cluster) -> None:
    shopper = Shopper(ws(cluster.b))
    shopper.say("Bonjour")
    shopper.wait_message("bot", "")
    proc.kill(cluster.rasa.process)                        # kill -9

    shopper.say("Comment retourner un article ?")
    answer = shopper.wait_message("bot", "retour", timeout=30)   # straight from the FAQ index
    assert "Mon compte" in answer["text"] or "30 jours" in answer["text"]
    shopper.wait_message("bot", "mode réduit", timeout=30)
    ready = httpx.get(f"{cluster.b.url}/readyz", headers=cluster.b.metrics_auth, timeout=10).json()
    assert ready["status"] == "degraded" and not ready["rasa"]["ok"]

    cluster.start_rasa()                                    # Rasa is back (same port)
    wait_for(lambda: httpx.get(f"{cluster.b.url}/readyz", timeout=10).json()["status"] == "ready",
             "/readyz ready again")

    def bot_again() -> bool:                                # the breaker closes within OPEN_S
        shopper.say("je veux parler à un conseiller")
        reply = shopper.wait_message("bot", "", timeout=30)
        return "problème technique" not in reply["text"] and "mode réduit" not in reply["text"]

    wait_for(bot_again, "the same conversation talking to Rasa again", timeout=60)
    shopper.close()


def test_redis_killed_keeps_every_acknowledged_message_and_ticket(cluster: Cluster) -> None:
    shopper = Shopper(ws(cluster.b))
    cid = shopper.conversation_id
    assert send(shopper, "Un dernier message avant la panne", "last-1")["type"] == "ack"
    ticket = httpx.post(f"{cluster.b.url}/api/chat/conversations/{cid}/tickets", timeout=10,
                        json={"email": "jo@example.com", "message": "Rappelez-moi svp", "lang": "fr"})
    assert ticket.status_code == 201, ticket.text
    tid = ticket.json()["ticket_id"]
    shopper.close()

    cluster.redis.kill()                                   # crash: no chance to flush
    cluster.redis.start()

    client = cluster.redis.client()
    log = [json.loads(m) for m in client.lrange(f"support:conv:{cid}:log", 0, -1)]
    assert "Un dernier message avant la panne" in [m["text"] for m in log if m["role"] == "shopper"]
    assert client.hget(f"support:ticket:{tid}", "message") == b"Rappelez-moi svp"
    # and the gateway goes on with the restarted Redis
    wait_for(lambda: httpx.get(f"{cluster.b.url}/readyz", timeout=10).status_code == 200, "readyz")
    assert _widget_send(cluster.b, cid, "Et après la panne ?", "after-1")["type"] == "ack"


def _widget_send(gw: Gateway, cid: str, text: str, mid: str, attempts: int = 4) -> dict[str, Any]:
    """As the widget does: (re)connect with back-off and send, the message id making it once."""
    for attempt in range(attempts):
        try:
            shopper = Shopper(ws(gw, conversation_id=cid))
            try:
                return send(shopper, text, mid)
            finally:
                shopper.close()
        except Exception:
            if attempt == attempts - 1:
                raise AssertionError(f"no ack after {attempts} connections; log: {_tail(gw)}") from None
            time.sleep(0.5 * 2 ** attempt)
    raise AssertionError("unreachable")


def _tail(gw: Gateway) -> str:
    port = gw.url.rsplit(":", 1)[1]
    logs = list(Path("/tmp").glob(f"pytest-of-*/pytest-current/faults*/gateway-{port}.log"))
    return logs[0].read_text(errors="replace")[-4000:] if logs else "(not found)"
