"""Issue 14, the server's own configuration, on real uvicorn processes started with the options
`make run` gives the gateway (ops.run.gateway_server_options, through tests.stack.gateway):

- uvicorn believed `X-Forwarded-For` from 127.0.0.1 by default: a forged header moved the
  failed-login count to an address of the attacker's choosing. Now no proxy is trusted unless
  FORWARDED_ALLOW_IPS names it.
- WebSocket messages up to 16 MiB were read before the gateway's 8 KiB frame check. Now the
  server refuses anything over ops.run.WS_MAX_BYTES (close code 1009) without buffering it.
- /metrics and the details of /readyz were public (login counts, Rasa URLs, model). Now they
  need `Authorization: Bearer METRICS_TOKEN`; probes still read the status.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import redis
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from handoff.login_guard import FREE_FAILURES
from ops import proc
from ops.ports import free_port
from ops.redis_server import RedisServer
from ops.run import WS_MAX_BYTES, gateway_server_options
from tests.gateway.helpers import KB_SMALL
from tests.stack import REPO, Gateway, gateway, wait_http

pytestmark = pytest.mark.timeout(300)
FORGED = "203.0.113.7"


@contextmanager
def echo_server(tmp: Path, forwarded_allow_ips: str = "") -> Iterator[str]:
    """uvicorn serving tests/security/echo_app.py (it answers with the client address the app
    is given) with the gateway's server options."""
    port = free_port()
    log = tmp / f"echo-{port}.log"
    with log.open("wb") as out:
        p = proc.spawn([sys.executable, "-m", "uvicorn", "tests.security.echo_app:app", "--host", "127.0.0.1",
                        "--port", str(port), *gateway_server_options(forwarded_allow_ips)],
                       cwd=REPO, stdout=out, stderr=out)
    try:
        wait_http(f"http://127.0.0.1:{port}/", 60, p, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate(p)


@pytest.fixture(scope="module")
def real_gateway(redis_server: RedisServer, gateway_index_dir: Path,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("server-config")
    with gateway(redis_server.url, tmp, shop_config=REPO / "config" / "shop.yml", kb_dir=KB_SMALL,
                 index_dir=gateway_index_dir) as gw:
        yield gw


# -- X-Forwarded-For ---------------------------------------------------------------------------


def test_a_forged_forwarded_for_does_not_change_the_client_address(tmp_path: Path) -> None:
    with echo_server(tmp_path) as url:
        seen = httpx.get(url, headers={"X-Forwarded-For": FORGED}).json()["client"]
    assert seen == "127.0.0.1"


def test_the_configured_proxy_alone_is_believed(tmp_path: Path) -> None:
    """With FORWARDED_ALLOW_IPS naming the proxy (here: this machine), its header is used; this
    is also what the server did for everyone on loopback before the fix."""
    with echo_server(tmp_path, forwarded_allow_ips="127.0.0.1") as url:
        seen = httpx.get(url, headers={"X-Forwarded-For": FORGED}).json()["client"]
    assert seen == FORGED


def test_forged_addresses_do_not_spread_failed_logins(real_gateway: Gateway,
                                                      redis_client: redis.Redis) -> None:
    """The attack: a new forged address per guess, so the per-(account, address) lock never
    comes. Now every guess counts against the real connection, and the lock comes on time."""
    email = f"victim-{uuid.uuid4().hex[:8]}@shop.example"
    with httpx.Client(base_url=real_gateway.url, timeout=30) as http:
        for n in range(FREE_FAILURES):
            res = http.post("/api/agent/login", json={"email": email, "password": f"guess-{n}"},
                            headers={"X-Forwarded-For": f"198.51.100.{n + 1}"})
            assert res.status_code == 401, res.text
        locked = http.post("/api/agent/login", json={"email": email, "password": "guess-last"},
                           headers={"X-Forwarded-For": "198.51.100.200"})
    assert locked.status_code == 429, locked.text


# -- WebSocket message size --------------------------------------------------------------------


def test_a_websocket_message_over_the_cap_is_refused_by_the_server(real_gateway: Gateway) -> None:
    ws_url = real_gateway.url.replace("http", "ws", 1) + "/ws/chat"
    with connect(ws_url, open_timeout=30) as ws:
        assert json.loads(ws.recv(timeout=30))["type"] == "welcome"
        # above the app's 8 KiB but under the server's cap: the app's own error, the socket stays
        ws.send(json.dumps({"type": "message", "text": "x" * 9000, "message_id": "m1"}))
        frame = json.loads(ws.recv(timeout=30))
        assert frame["type"] == "error" and frame["status"] == 413, frame
        ws.send(json.dumps({"type": "message", "text": "x" * (WS_MAX_BYTES + 1), "message_id": "m2"}))
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=30)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009   # message too big


def test_websocket_frames_are_not_compressed(real_gateway: Gateway) -> None:
    """The client offers per-message deflate (websockets does by default): the server declines."""
    ws_url = real_gateway.url.replace("http", "ws", 1) + "/ws/chat"
    with connect(ws_url, open_timeout=30) as ws:
        assert "permessage-deflate" in ws.request.headers.get("Sec-WebSocket-Extensions", "")
        assert ws.response.headers.get("Sec-WebSocket-Extensions") is None
        assert json.loads(ws.recv(timeout=30))["type"] == "welcome"


# -- /metrics and /readyz -----------------------------------------------------------------------


def test_metrics_need_the_operators_token(real_gateway: Gateway) -> None:
    with httpx.Client(base_url=real_gateway.url, timeout=30) as http:
        for headers in ({}, {"Authorization": "Bearer not-the-token"}):
            res = http.get("/metrics", headers=headers)
            assert res.status_code == 401 and "faq_index" not in res.text
        res = http.get("/metrics", headers=real_gateway.metrics_auth)
    assert res.status_code == 200 and "faq_index_entries" in res.text


def test_readyz_details_need_the_operators_token(real_gateway: Gateway) -> None:
    with httpx.Client(base_url=real_gateway.url, timeout=30) as http:
        public = http.get("/readyz")
        detailed = http.get("/readyz", headers=real_gateway.metrics_auth)
    assert public.status_code == detailed.status_code == 200      # probes keep working
    assert public.json() == {"status": detailed.json()["status"]}
    assert "rasa" not in public.text and "127.0.0.1" not in public.text
    body = detailed.json()
    assert body["index"]["ready"] is True and body["redis"]["ok"] is True and "rasa" in body
