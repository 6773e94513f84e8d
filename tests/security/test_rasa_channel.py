"""Issue 14, "Rasa's REST channel on port 5005 needs no token and bypasses the gateway; its auth
token is visible in `ps`", on a real Rasa server wired to a real gateway.

Seen live: anyone reaching port 5005 talked to the bot through `/webhooks/rest/webhook` (a ticket
was created that way, past the gateway's limits and transcript), and `ps` showed
`--auth-token <RASA_TOKEN>`. Now Rasa's only channel is bot/gateway_channel.py, which refuses
(403) a request without the shared secret in `X-Gateway-Token`, and Rasa is started by
bot/serve.py, which hands the token over from the environment, so no command line holds it.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from ops.ports import free_port
from ops.redis_server import RedisServer
from tests.bot.conftest import bot_model  # noqa: F401  (fixture: the trained model)
from tests.gateway.helpers import KB_SMALL
from tests.stack import CHANNEL_HEADER, CHANNEL_PATH, RASA_TOKEN, REPO, Gateway, Rasa, gateway, rasa

pytestmark = pytest.mark.timeout(600)
GREETING_FR = "Je suis l'assistant d'Atelier Lumen"   # utter_greet, bot/domain.yml


@pytest.fixture(scope="module")
def wired(bot_model: Path, redis_server: RedisServer, gateway_index_dir: Path,  # noqa: F811
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, Rasa]]:
    """A gateway (small KB) and a Rasa server calling each other, as `make run` starts them."""
    tmp = tmp_path_factory.mktemp("rasa-channel")
    port = free_port()
    env = {"RASA_URL": f"http://127.0.0.1:{port}", "RASA_TOKEN": RASA_TOKEN}
    with gateway(redis_server.url, tmp, shop_config=REPO / "config" / "shop.yml", kb_dir=KB_SMALL,
                 index_dir=gateway_index_dir, extra_env=env) as gw, \
            rasa(redis_server.url, gw.url, gw.token, tmp, port=port) as bot:
        yield gw, bot


def texts(replies: list[dict[str, Any]]) -> str:
    return "\n".join(str(r.get("text", "")) for r in replies)


def events(bot: Rasa, sender: str) -> list[dict[str, Any]]:
    return bot.tracker(sender).get("events") or []


def test_the_open_rest_channel_is_gone(wired: tuple[Gateway, Rasa]) -> None:
    _, bot = wired
    sender = f"outsider-{uuid.uuid4().hex}"
    res = httpx.post(f"{bot.url}/webhooks/rest/webhook", json={"sender": sender, "message": "/greet"},
                     timeout=60)
    assert res.status_code == 404
    assert not [e for e in events(bot, sender) if e.get("event") == "user"]


@pytest.mark.parametrize("headers", [{}, {CHANNEL_HEADER: "not-the-secret"}, {CHANNEL_HEADER: ""},
                                     {"Authorization": f"Bearer {RASA_TOKEN}"}])
def test_the_gateway_channel_refuses_callers_without_the_secret(wired: tuple[Gateway, Rasa],
                                                                headers: dict[str, str]) -> None:
    _, bot = wired
    sender = f"outsider-{uuid.uuid4().hex}"
    res = httpx.post(f"{bot.url}{CHANNEL_PATH}", headers=headers,
                     json={"sender": sender, "message": "/greet"}, timeout=60)
    assert res.status_code == 403
    assert GREETING_FR not in res.text
    assert not [e for e in events(bot, sender) if e.get("event") == "user"]   # never reached the bot


def test_with_the_secret_the_bot_replies(wired: tuple[Gateway, Rasa]) -> None:
    _, bot = wired
    assert GREETING_FR in texts(bot.say(f"gw-{uuid.uuid4().hex}", "/greet"))


def test_the_gateway_talks_to_the_bot_through_its_channel(wired: tuple[Gateway, Rasa]) -> None:
    """The gateway's RasaClient sends the secret: a shopper's message gets Rasa's answer (not the
    degraded mode's)."""
    gw, _ = wired
    with httpx.Client(base_url=gw.url, timeout=60) as http:
        res = http.post("/api/chat/conversations", json={"lang": "fr"})
        assert res.status_code == 201, res.text
        cid = res.json()["conversation_id"]
        sent = http.post(f"/api/chat/conversations/{cid}/messages", json={"text": "/greet"})
        assert sent.status_code == 202, sent.text
        deadline = time.monotonic() + 120
        bot_texts: list[str] = []
        while not bot_texts and time.monotonic() < deadline:
            messages = http.get(f"/api/chat/conversations/{cid}/messages").json()["messages"]
            bot_texts = [m["text"] for m in messages if m["role"] == "bot"]
            time.sleep(0.2)
    assert bot_texts and GREETING_FR in bot_texts[0], bot_texts


def test_rasa_http_api_still_needs_its_token(wired: tuple[Gateway, Rasa]) -> None:
    _, bot = wired
    for path in ("/status", "/conversations/someone/tracker"):
        assert httpx.get(f"{bot.url}{path}", timeout=60).status_code == 401
        assert httpx.get(f"{bot.url}{path}", params={"token": "wrong"}, timeout=60).status_code == 401
        assert httpx.get(f"{bot.url}{path}", params={"token": bot.token}, timeout=60).status_code == 200


def test_no_command_line_holds_the_token(wired: tuple[Gateway, Rasa]) -> None:
    """/proc/<pid>/cmdline is readable by every local user (`ps`): the Rasa server and any
    process it started must not carry the token there."""
    _, bot = wired
    server = psutil.Process(bot.process.pid)   # type: ignore[attr-defined]
    for p in (server, *server.children(recursive=True)):
        cmdline = Path(f"/proc/{p.pid}/cmdline").read_bytes()
        assert bot.token.encode() not in cmdline and b"--auth-token" not in cmdline, cmdline
    assert b"serve.py" in Path(f"/proc/{server.pid}/cmdline").read_bytes()


@pytest.mark.parametrize(("args", "token"), [(["run", "--auth-token", "x"], "t"),
                                             (["run", "--auth-token=x"], "t"), (["run"], "")])
def test_the_launcher_refuses_a_token_in_argv_or_none(args: list[str], token: str) -> None:
    """Checked before Rasa is even imported: a wrong start fails at once, naming RASA_TOKEN."""
    env = {k: v for k, v in os.environ.items() if k != "RASA_TOKEN"}
    if token:
        env["RASA_TOKEN"] = token
    res = subprocess.run([str(REPO / ".venv-rasa" / "bin" / "python"), str(REPO / "bot" / "serve.py"), *args],
                         cwd=REPO / "bot", env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode != 0 and "RASA_TOKEN" in res.stderr
