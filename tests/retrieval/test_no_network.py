"""Nothing downloads: the guard used by every retrieval test really blocks, and loopback still works.

The guard (netguard.py) is installed for the whole tests/retrieval package before the
embedding model loads, and in every `python -m retrieval` subprocess via sitecustomize;
`no_network_attempt` (conftest) fails any test during which a connection was even tried.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import NET_LOG_ENV
from .netguard import NetworkBlocked


def test_outside_connections_are_blocked_and_recorded(blocked_attempts: list[str]) -> None:
    before = len(blocked_attempts)
    with pytest.raises(NetworkBlocked):
        socket.create_connection(("192.0.2.1", 443), timeout=1)
    with pytest.raises(NetworkBlocked):
        socket.getaddrinfo("huggingface.co", 443)
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s, pytest.raises(NetworkBlocked):
        s.connect_ex(("2001:db8::1", 443, 0, 0))
    assert len(blocked_attempts) == before + 3
    del blocked_attempts[before:]  # expected attempts: do not fail this test for them


def test_loopback_still_works() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(("localhost", server.getsockname()[1]), timeout=2):
            conn, _ = server.accept()
            conn.close()


def test_model_loaded_and_used_offline(embedder, blocked_attempts: list[str]) -> None:
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert embedder.path.is_dir() and "site-packages" in str(embedder.path)  # the wheel's copy
    assert embedder.encode(["où est mon colis"]).shape == (1, embedder.dim)
    assert blocked_attempts == []  # nothing, since the model was loaded, tried to connect


def test_cli_subprocesses_run_under_the_guard(cli: dict[str, str], tmp_path: Path) -> None:
    code = "import socket; socket.create_connection(('192.0.2.1', 443), timeout=1)"
    proc = subprocess.run([sys.executable, "-c", code], env=cli, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode != 0
    assert "NetworkBlocked" in proc.stderr
    assert "192.0.2.1" in Path(cli[NET_LOG_ENV]).read_text(encoding="utf-8")
