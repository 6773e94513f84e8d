"""ops.run's configuration and the real command lines (the stack itself is
exercised with fake children in test_supervisor.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ops.redis_server import RedisServer
from ops.run import ROOT, WS_MAX_BYTES, Config, banner, build_children, gateway_server_options
from ops.supervisor import HttpReady


def test_config_from_env() -> None:
    config = Config.from_env(
        {"GATEWAY_PORT": "8123", "GATEWAY_HOST": "0.0.0.0", "KB_DIR": "/srv/kb", "REDIS_URL": ""}
    )
    assert config.gateway_port == 8123
    assert config.gateway_url == "http://127.0.0.1:8123"
    assert config.kb_dir == Path("/srv/kb")
    assert config.redis_url is None
    defaults = Config.from_env({})
    assert (defaults.gateway_host, defaults.gateway_port) == ("127.0.0.1", 8000)
    assert defaults.kb_dir == ROOT / "kb_content"
    assert defaults.lock_path == ROOT / "var" / "run" / "ops.lock"


@pytest.mark.parametrize("bad", ["http", "0", "70000"])
def test_config_rejects_bad_port(bad: str) -> None:
    with pytest.raises(ValueError, match="GATEWAY_PORT"):
        Config.from_env({"GATEWAY_PORT": bad})


def test_real_children_use_the_real_commands() -> None:
    config = Config(kb_dir=Path("/kb"), gateway_port=8123)
    index, train, gateway, rasa = build_children(config, "redis://:pw@127.0.0.1:7777/2")
    assert index.oneshot and train.oneshot
    assert list(train.argv) == [sys.executable, "-m", "ops.train"]
    assert list(index.argv) == [sys.executable, "-m", "retrieval", "build", "--kb", "/kb"]
    assert list(gateway.argv[:4]) == [sys.executable, "-m", "uvicorn", "gateway.app:app"]
    assert gateway.argv[4:8] == ["--host", "127.0.0.1", "--port", "8123"]
    assert gateway.env["REDIS_URL"] == "redis://:pw@127.0.0.1:7777/2"
    assert isinstance(gateway.ready, HttpReady)
    assert gateway.ready.url == "http://127.0.0.1:8123/readyz"
    assert index.cwd == gateway.cwd == ROOT
    # the gateway: no proxy trusted by default, WebSocket messages capped by the server
    assert gateway.argv[gateway.argv.index("--ws-max-size") + 1] == str(WS_MAX_BYTES)
    assert "--no-proxy-headers" in gateway.argv and "--forwarded-allow-ips" not in gateway.argv
    # Rasa: API on loopback with a token, Redis split for endpoints.yml, actions at the gateway
    assert rasa.argv[:3] == [str(ROOT / ".venv-rasa" / "bin" / "python"), str(ROOT / "bot" / "serve.py"),
                             "run"]
    assert rasa.argv[rasa.argv.index("--interface") + 1] == "127.0.0.1"
    token = rasa.env["RASA_TOKEN"]           # through the environment: argv is public (`ps`)
    assert token and token == gateway.env["RASA_TOKEN"]
    assert "--auth-token" not in rasa.argv and not any(token in arg for arg in rasa.argv)
    assert (rasa.env["REDIS_HOST"], rasa.env["REDIS_PORT"], rasa.env["REDIS_DB"],
            rasa.env["REDIS_PASSWORD"]) == ("127.0.0.1", "7777", "2", "pw")
    assert rasa.env["ACTION_ENDPOINT_URL"] == "http://127.0.0.1:8123/webhook"
    assert rasa.env["ACTION_TOKEN"] == gateway.env["ACTION_TOKEN"]
    assert rasa.env["RASA_TELEMETRY_ENABLED"] == "false"
    assert rasa.cwd == ROOT / "bot"


def test_forwarded_for_is_trusted_only_from_the_configured_proxies() -> None:
    assert Config.from_env({}).forwarded_allow_ips == ""
    config = Config.from_env({"FORWARDED_ALLOW_IPS": " 10.0.0.5, 10.1.0.0/16 ", "GATEWAY_PORT": "8123"})
    assert config.forwarded_allow_ips == "10.0.0.5,10.1.0.0/16"
    gateway = next(c for c in build_children(config, "redis://127.0.0.1:7777/0") if c.name == "gateway")
    assert gateway.argv[gateway.argv.index("--forwarded-allow-ips") + 1] == "10.0.0.5,10.1.0.0/16"
    assert "--no-proxy-headers" not in gateway.argv
    assert gateway_server_options("") == ["--ws-max-size", str(WS_MAX_BYTES), "--ws-per-message-deflate",
                                          "false", "--no-proxy-headers"]
    for bad in ("*", "proxy.example", "10.0.0.300", "10.0.0.0/40"):   # uvicorn would take them silently
        with pytest.raises(ValueError, match="FORWARDED_ALLOW_IPS"):
            Config.from_env({"FORWARDED_ALLOW_IPS": bad})


def test_workers_and_rasa_scale_the_layout() -> None:
    config = Config.from_env({"WORKERS": "2", "RASA": "3", "GATEWAY_PORT": "8123"})
    children = build_children(config, "redis://127.0.0.1:7777/0")
    gateway = next(c for c in children if c.name == "gateway")
    rasas = [c for c in children if c.name.startswith("rasa")]
    assert gateway.argv[gateway.argv.index("--workers") + 1] == "2"
    assert [c.name for c in rasas] == ["rasa", "rasa-2", "rasa-3"]
    ports = [c.argv[c.argv.index("--port") + 1] for c in rasas]
    assert ports == ["5005", "5006", "5007"]
    assert gateway.env["RASA_URL"] == "http://127.0.0.1:5005,http://127.0.0.1:5006,http://127.0.0.1:5007"
    assert "--workers" not in build_children(Config(), "redis://x:1/0")[2].argv
    for bad in ("0", "x", "99"):
        with pytest.raises(ValueError, match="WORKERS"):
            Config.from_env({"WORKERS": bad})


def test_banner_lists_the_useful_urls() -> None:
    redis = RedisServer(url="redis://:secret@10.0.0.5:6379/0")
    text = banner(Config(gateway_port=8123), redis)
    for expected in (
        "http://127.0.0.1:8123/api/search?q=ou+est+mon+colis",
        "http://127.0.0.1:8123/healthz",
        "http://127.0.0.1:8123/metrics",
        "METRICS_TOKEN",
        "redis://:***@10.0.0.5:6379/0",
        "Ctrl-C to stop",
    ):
        assert expected in text
    assert "secret" not in text
    assert "/webhooks/rest/" not in text      # Rasa has no open channel left to advertise
