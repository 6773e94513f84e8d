"""The embedded Redis: real redis-server processes, no mocks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import redis

from ops.ports import free_port
from ops.redis_server import RedisError, RedisServer

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(60)


def test_session_server_answers_ping(redis_server: RedisServer, redis_client: redis.Redis) -> None:
    assert redis_client.ping()
    assert redis_server.url == f"redis://127.0.0.1:{redis_server.port}/0"
    redis_client.set("k", "v")
    assert redis_client.get("k") == "v"
    config = redis_client.config_get("*")
    assert config["appendonly"] == "yes"
    assert config["appendfsync"] == "everysec"
    assert config["protected-mode"] == "yes"
    assert config["bind"] == "127.0.0.1"
    assert Path(config["dir"]) == redis_server.data_dir.resolve()


def test_redis_client_fixture_starts_empty(redis_client: redis.Redis) -> None:
    assert redis_client.dbsize() == 0


def test_listens_on_loopback_only(redis_server: RedisServer) -> None:
    assert redis_server.pid is not None
    listening = [
        c.laddr
        for c in psutil.Process(redis_server.pid).net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    ]
    assert listening and all(addr.ip == "127.0.0.1" for addr in listening)


def _wait_until_in_aof(data_dir: Path, needle: bytes, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(needle in f.read_bytes() for f in data_dir.rglob("*.aof*") if f.is_file()):
            return
        time.sleep(0.05)
    raise AssertionError(f"{needle!r} never reached the AOF in {data_dir}")


def test_data_survives_kill_and_restart(tmp_path: Path) -> None:
    server = RedisServer(port=0, data_dir=tmp_path, use_env=False)
    with server:
        first_pid, url = server.pid, server.url
        with server.client() as client:
            client.set("order:42", "shipped")
        _wait_until_in_aof(tmp_path, b"order:42")
        server.kill()
        assert server.poll() == -signal.SIGKILL
        assert not psutil.pid_exists(first_pid) or psutil.Process(first_pid).status() == "zombie"

        server.start()
        assert server.url == url and server.pid != first_pid
        with server.client(decode_responses=True) as client:
            assert client.get("order:42") == "shipped"

        server.restart()  # graceful stop + start keeps it too
        with server.client(decode_responses=True) as client:
            assert client.get("order:42") == "shipped"
    assert server.poll() == 0  # SIGTERM: clean exit


def test_redis_url_is_used_without_starting_a_process(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with RedisServer(data_dir=tmp_path / "unused") as server:
        assert server.external and server.url == redis_server.url
        assert server.pid is None and server.poll() is None
        assert server.ping()
        with pytest.raises(RuntimeError):
            server.kill()
    assert {p.pid for p in psutil.Process().children(recursive=True)} == before
    assert not (tmp_path / "unused").exists()


def test_unreachable_redis_url_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"redis://:s3cret@127.0.0.1:{free_port()}/0"
    monkeypatch.setenv("REDIS_URL", url)
    with pytest.raises(RedisError, match="REDIS_URL is set to redis://:\\*\\*\\*@127.0.0.1") as err:
        RedisServer(start_timeout=0.5).start()
    assert "s3cret" not in str(err.value)


def test_busy_port_is_refused(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(RedisError, match=f"port {port} .* already in use"):
            RedisServer(port=port, data_dir=tmp_path, use_env=False).start()


def test_startup_failure_shows_the_log_tail(tmp_path: Path) -> None:
    fake = tmp_path / "fake-redis-server"
    fake.write_text("#!/bin/sh\necho 'FATAL: bad config line' >&2\nexit 1\n")
    fake.chmod(0o755)
    server = RedisServer(port=0, data_dir=tmp_path / "data", use_env=False, executable=str(fake))
    with pytest.raises(RedisError, match="exited during startup") as err:
        server.start()
    assert "FATAL: bad config line" in str(err.value)
    assert "redis.log" in str(err.value)


def test_foreground_cli_stops_on_ctrl_c(tmp_path: Path) -> None:
    env = {**os.environ, "REDIS_URL": "redis://ignored.invalid:1/0"}  # the CLI is always embedded
    cli = subprocess.Popen(
        [sys.executable, "-m", "ops.redis_server", "--port", "0", "--dir", str(tmp_path)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert cli.stdout is not None
        line = cli.stdout.readline()
        assert line.startswith("Redis at redis://127.0.0.1:"), line
        url = line.split()[2]
        with redis.Redis.from_url(url) as client:
            assert client.ping()
        redis_pids = [p.pid for p in psutil.Process(cli.pid).children()]
        cli.send_signal(signal.SIGINT)
        assert cli.wait(timeout=15) == 0
        assert "Redis stopped" in cli.stdout.read()
        assert not any(psutil.pid_exists(pid) for pid in redis_pids)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
