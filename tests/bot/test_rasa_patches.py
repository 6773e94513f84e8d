"""bot/rasa_patches.py in the Rasa venv: the compiled check of action server responses gives
the verdicts and the error message of Rasa's own `jsonschema.validate`, on good and bad replies."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

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
    {"events": [{"event": "slot", "name": "faq_band", "value": "answer"}, {"event": "bot", "text": "hi"},
                {"event": "active_loop", "name": None}, {"event": "followup", "name": "utter_x"}],
     "responses": []},
    {"events": [{"event": "no_such_event"}], "responses": []},
    {"events": [{"event": "slot", "value": "no name"}], "responses": []},
    {"events": [{"event": "slot", "name": "a", "value": 1}, {"event": "user", "text": 3}], "responses": []},
    {"events": [{"event": 5}], "responses": []},
    {"events": [{"event": "slot", "name": "a", "value": 1, "timestamp": "noon"}], "responses": []},
    {"events": [], "responses": "not a list"},
    [],
]


def test_the_compiled_validation_agrees_with_rasas_own() -> None:
    out = subprocess.run([str(REPO / ".venv-rasa" / "bin" / "python"), "-c", SCRIPT, json.dumps(SAMPLES)],
                         cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["after"] == result["before"]                  # same verdicts, same messages
    verdicts = [v[0] for v in result["after"]]
    assert verdicts == ["ok", "ok", "refused", "refused", "ok", "ok", "refused", "refused", "refused",
                        "refused", "refused", "refused", "refused"], verdicts   # the samples test both ways
    refused = [v[1] for v in result["after"] if v[0] == "refused"]
    assert all("Failed to validate Action server response" in message for message in refused)


EVENT_TYPES = r"""
import json, sys
sys.path.insert(0, "bot")
from rasa.shared.core.events import Event, UserUttered
from rasa.shared.utils.common import all_subclasses

names = sorted({cls.type_name for cls in all_subclasses(Event)}) + ["topic", "no_such_event"]

def lookups():
    out = {}
    for name in names + names:   # twice: the second lookup of a name comes from the memo
        try:
            found = Event.resolve_by_type(name)
            out[name] = found.__name__ if found else None
        except ValueError as exc:
            out[name] = "error: " + str(exc)
    out["default"] = Event.resolve_by_type("no_such_event", UserUttered).__name__
    return out

before = lookups()
import rasa_patches
rasa_patches.install()
after = lookups()
parsed = Event.from_parameters({"event": "user", "text": "où est mon colis ?",
                                "parse_data": {"intent": {"name": "faq"}}})
print(json.dumps({"before": before, "after": after, "parsed": type(parsed).__name__, "n": len(names)}))
"""


def test_event_classes_found_as_rasa_finds_them() -> None:
    out = subprocess.run([str(REPO / ".venv-rasa" / "bin" / "python"), "-c", EVENT_TYPES],
                         cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["after"] == result["before"]
    assert result["n"] > 20 and result["after"]["user"] == "UserUttered"
    assert result["after"]["no_such_event"].startswith("error: Unknown event name")
    assert result["after"]["topic"] is None and result["after"]["default"] == "UserUttered"
    assert result["parsed"] == "UserUttered"


SPARSE_JOINS = r"""
import json, sys
import numpy as np
import scipy.sparse
sys.path.insert(0, "bot")
from rasa.shared.nlu.training_data.features import Features

rng = np.random.default_rng(3)

def sample(rows, cols, dtype):
    dense = (rng.random((rows, cols)) < 0.2) * rng.integers(1, 4, (rows, cols))
    return scipy.sparse.coo_matrix(dense.astype(dtype))

pairs = [(sample(5, 7, np.float32), sample(5, 3, np.float32)),
         (sample(1, 40, np.float64), sample(1, 9, np.float64)),
         (sample(3, 4, np.float32), scipy.sparse.coo_matrix((3, 6), dtype=np.float32)),
         (sample(2, 5, np.float32), sample(2, 5, np.float64)),
         (sample(4, 2, np.float32), sample(3, 2, np.float32))]

def joins():
    out = []
    for left, right in pairs:
        f = Features(left.copy(), "sequence", "text", "a")
        try:
            f._combine_sparse_features(Features(right.copy(), "sequence", "text", "b"))
        except ValueError as exc:
            out.append(["error", str(exc)])
            continue
        m = f.features
        out.append([m.format, str(m.dtype), str(m.row.dtype), list(m.shape), m.toarray().tolist(),
                    m.row.tolist(), m.col.tolist(), m.data.tolist()])
    return out

before = joins()
import rasa_patches
rasa_patches.install()
print(json.dumps({"before": before, "after": joins()}))
"""


def test_sparse_features_are_joined_as_rasa_joins_them() -> None:
    out = subprocess.run([str(REPO / ".venv-rasa" / "bin" / "python"), "-c", SPARSE_JOINS],
                         cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["after"] == result["before"]   # same matrices, entries in the same order
    assert result["after"][-1][0] == "error"     # rows that differ are still refused


DIET_PREDICTIONS = r"""
import asyncio, json, sys
sys.path.insert(0, "bot")
from rasa.core.agent import Agent
from rasa.utils.tensorflow import models

MESSAGES = ["Quels sont les délais de livraison ?", "je veux parler à un humain", "merci beaucoup",
            "my promo code does not work", "où est ma commande AL-123456", "c'est nul votre service",
            "bonjour", "Do you ship to Belgium?", "au revoir", "zzzz", "oui", "non merci"]
agent = Agent.load(sys.argv[1])
calls = []
original = models.RasaModel._rasa_predict

async def parses():
    out = []
    for text in MESSAGES:
        parsed = await agent.parse_message(text)
        out.append([parsed["intent"]["name"], parsed["intent"]["confidence"],
                    [[r["name"], r["confidence"]] for r in parsed["intent_ranking"]]])
    return out

before = asyncio.run(parses())
import rasa_patches
rasa_patches.install()
patched = models.RasaModel._rasa_predict
def counting(self, batch_in):
    calls.append(self.__dict__.get("_predict_graph") is not None)
    return patched(self, batch_in)
models.RasaModel._rasa_predict = counting
after = asyncio.run(parses())
print(json.dumps({"before": before, "after": after, "through_graph": calls}))
"""


def test_diet_predicts_through_its_graph_as_through_the_tf_function(bot_model: Path) -> None:
    """Same intents and confidences (to the float) whether DIET is called through TensorFlow's
    dispatch or its graph directly; after the first call every parse takes the direct path."""
    python = str(REPO / ".venv-rasa" / "bin" / "python")
    out = subprocess.run([python, "-c", DIET_PREDICTIONS, str(bot_model)], cwd=REPO, capture_output=True,
                         text=True, timeout=600, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["after"] == result["before"]
    assert {row[0] for row in result["after"]} >= {"faq", "ask_human", "thanks", "greet"}
    assert len(result["through_graph"]) == 12 and all(result["through_graph"][1:])


KEEP_ALIVE = r"""
import asyncio, json, sys
sys.path.insert(0, "bot")
from aiohttp import web
from rasa.utils.endpoints import EndpointConfig

async def main():
    peers = []
    async def action(request):
        peers.append(request.transport.get_extra_info("peername")[1])
        return web.json_response({"events": [], "echo": (await request.json())["n"]})
    async def serve(keepalive):
        runner = web.AppRunner(web.Application(), keepalive_timeout=keepalive)
        runner.app.router.add_post("/webhook", action)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return runner, site._server.sockets[0].getsockname()[1]
    async def calls(port, n, pause=0.0):
        endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook", token="t")
        out = []
        for i in range(n):
            out.append((await endpoint.request(json={"n": i}, method="post"))["echo"])
            await asyncio.sleep(pause)
        return out
    runner, port = await serve(75.0)
    before = await calls(port, 4)
    before_peers, peers[:] = list(peers), []
    import rasa_patches
    rasa_patches.install()
    after = await calls(port, 4)
    after_peers, peers[:] = list(peers), []
    await runner.cleanup()
    # a server that answers one request per connection and drops the connection when a second
    # one comes (as a server closing an idle connection just as it is reused): the call breaks
    # on the reused connection and is sent again on a new one
    connections = []
    async def one_request_each(reader, writer):
        connections.append(writer)
        served = 0
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length")))
            body = json.loads(await reader.readexactly(length))
            if served:
                writer.transport.abort()
                return
            reply = json.dumps({"events": [], "echo": body["n"]}).encode()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                         + str(len(reply)).encode() + b"\r\n\r\n" + reply)
            await writer.drain()
            served += 1
    server = await asyncio.start_server(one_request_each, "127.0.0.1", 0)
    stale = await calls(server.sockets[0].getsockname()[1], 3)
    server.close()
    print(json.dumps({"before": [before, len(set(before_peers))], "after": [after, len(set(after_peers))],
                      "stale": [stale, len(connections)]}))

asyncio.run(main())
"""


def test_action_calls_keep_their_connection() -> None:
    """Rasa opened a new connection for each custom action call; patched, the calls share one
    (keep-alive), and a call whose idle connection the server had closed is sent again on a new
    one, so the bot never fails a turn over it."""
    python = str(REPO / ".venv-rasa" / "bin" / "python")
    out = subprocess.run([python, "-c", KEEP_ALIVE], cwd=REPO, capture_output=True, text=True, timeout=300,
                         check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["before"] == [[0, 1, 2, 3], 4]      # Rasa's own: one connection per call
    assert result["after"] == [[0, 1, 2, 3], 1]       # one connection for all
    assert result["stale"][0] == [0, 1, 2] and result["stale"][1] == 3
