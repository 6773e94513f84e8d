"""The `make run` supervisor, run as a real subprocess with fake children
(tests/ops/fake_stack.py): signals, crashes, failed steps, orphans, the lock."""

from __future__ import annotations

import contextlib
import json
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from ops.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(60)


class Stack:
    """`python -m tests.ops.fake_stack` with its output collected line by line."""

    def __init__(self, var_dir: Path, port: int, **opts: object) -> None:
        args = json.dumps({"var_dir": str(var_dir), "gateway_port": port, **opts})
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "tests.ops.fake_stack", args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        self._seen: list[psutil.Process] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self._queue.put(line.rstrip("\n"))

    @property
    def output(self) -> str:
        self._drain()
        return "\n".join(self.lines)

    def _drain(self) -> None:
        while True:
            try:
                self.lines.append(self._queue.get_nowait())
            except queue.Empty:
                return

    def said(self, source: str, text: str) -> bool:
        """Did `source` (a child, or "ops") print exactly the line `text`?"""
        self._drain()
        return any(
            prefix.strip() == source and rest == f" {text}"
            for prefix, _, rest in (line.partition("|") for line in self.lines)
        )

    def wait_for(self, text: str, source: str | None = None, timeout: float = 20.0) -> None:
        """Wait for `text` anywhere in the output, or for that exact line from `source`."""
        deadline = time.monotonic() + timeout
        while not (self.said(source, text) if source else text in self.output):
            if time.monotonic() > deadline or self.popen.poll() is not None:
                time.sleep(0.2)
                raise AssertionError(f"never saw {text!r}; output:\n{self.output}")
            time.sleep(0.05)

    def descendants(self) -> list[psutil.Process]:
        """Every process below the supervisor (remembered for the final cleanup)."""
        procs = psutil.Process(self.popen.pid).children(recursive=True)
        self._seen.extend(procs)
        return procs

    def wait(self, timeout: float = 20.0) -> int:
        code = self.popen.wait(timeout=timeout)
        time.sleep(0.1)
        self._drain()
        return code

    def cleanup(self) -> None:
        """Never leak processes, even when a test fails half-way."""
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()
        for proc in self._seen:  # psutil checks it is still the same process
            with contextlib.suppress(psutil.Error):
                proc.kill()


def alive(procs: list[psutil.Process]) -> list[str]:
    """Names/cmdlines of processes that still run (zombies count as gone)."""
    left = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                left.append(" ".join(p.cmdline())[:80])
        except psutil.Error:
            pass
    return left


def wait_gone(procs: list[psutil.Process], timeout: float = 5.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while (left := alive(procs)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


@pytest.fixture
def stacks(tmp_path: Path) -> Iterator[list[Stack]]:
    started: list[Stack] = []
    yield started
    for stack in started:
        stack.cleanup()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_stops_every_child(tmp_path: Path, stacks: list[Stack], sig: int) -> None:
    port = free_port()
    stack = Stack(tmp_path, port, grandchild=True)
    stacks.append(stack)
    stack.wait_for("Ctrl-C to stop")
    stack.wait_for("ignoring SIGTERM", source="stubborn")  # armed
    stack.wait_for("worker up", source="worker")  # the grandchild is started
    assert f"http://127.0.0.1:{port}/api/search?q=ou+est+mon+colis" in stack.output
    assert stack.said("index", "building index")
    procs = stack.descendants()
    names = " ".join(" ".join(p.cmdline()) for p in procs)
    assert "redis-server" in names and "sleep 600" in names
    assert len(procs) >= 5  # redis, web, worker + its grandchild, stubborn

    second = Stack(tmp_path, free_port())
    stacks.append(second)
    assert second.wait() == 1
    assert (
        f"already running (pid {stack.popen.pid}, gateway at http://127.0.0.1:{port}); "
        f"stop it with Ctrl-C in its terminal or `kill {stack.popen.pid}`"
    ) in second.output
    assert alive(procs) == alive(stack.descendants())  # the second run touched nothing

    stack.popen.send_signal(sig)
    assert stack.wait() == 0, stack.output
    assert wait_gone(procs, timeout=1) == []
    assert "stubborn had to be killed" in stack.output
    assert not (tmp_path / "run" / "ops.lock").exists()


def test_crashing_child_is_reported_and_stops_the_others(
    tmp_path: Path, stacks: list[Stack]
) -> None:
    stack = Stack(tmp_path, free_port(), scenario="crash")
    stacks.append(stack)
    stack.wait_for("worker up", source="worker")
    procs = stack.descendants()
    assert stack.wait() == 1
    out = stack.output
    assert stack.said("worker", "worker: fatal error")
    assert "ERROR: worker exited unexpectedly (exit code 3)" in out
    assert out.index("worker: fatal error") < out.index("ERROR: worker exited")
    assert wait_gone(procs, timeout=1) == []
    assert not (tmp_path / "run" / "ops.lock").exists()


def test_failed_step_aborts_startup(tmp_path: Path, stacks: list[Stack]) -> None:
    stack = Stack(tmp_path, free_port(), scenario="step-fails")
    stacks.append(stack)
    assert stack.wait() == 1
    assert "ERROR: index failed (exit code 2)" in stack.output
    assert "starting web" not in stack.output
    assert "Ctrl-C to stop" not in stack.output


def test_service_never_ready_times_out(tmp_path: Path, stacks: list[Stack]) -> None:
    port = free_port()
    stack = Stack(tmp_path, port, scenario="not-ready", ready_timeout=2)
    stacks.append(stack)
    assert stack.wait() == 1
    assert (
        f"ERROR: web not ready after 2 s (GET http://127.0.0.1:{port}/readyz -> HTTP 503)"
        in stack.output
    )
    assert "starting worker" not in stack.output


def test_dying_redis_stops_everything(tmp_path: Path, stacks: list[Stack]) -> None:
    stack = Stack(tmp_path, free_port())
    stacks.append(stack)
    stack.wait_for("Ctrl-C to stop")
    procs = stack.descendants()
    [redis] = [p for p in procs if "redis-server" in " ".join(p.cmdline())]
    redis.kill()
    assert stack.wait() == 1
    assert "ERROR: redis exited unexpectedly (killed by SIGKILL)" in stack.output
    assert wait_gone(procs, timeout=1) == []


def test_killed_supervisor_leaves_no_orphans_nor_a_blocking_lock(
    tmp_path: Path, stacks: list[Stack]
) -> None:
    """SIGKILL skips every cleanup: the kernel's parent-death signal takes the
    direct children down, and the flock dies with its holder."""
    port = free_port()
    stack = Stack(tmp_path, port)
    stacks.append(stack)
    stack.wait_for("Ctrl-C to stop")
    procs = stack.descendants()
    stack.popen.kill()
    stack.wait()
    assert wait_gone(procs) == []
    assert (tmp_path / "run" / "ops.lock").exists()

    again = Stack(tmp_path, port)
    stacks.append(again)
    again.wait_for("Ctrl-C to stop")
    again.popen.send_signal(signal.SIGINT)
    assert again.wait() == 0


def test_busy_gateway_port_is_reported(tmp_path: Path, stacks: list[Stack]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        stack = Stack(tmp_path, port)
        stacks.append(stack)
        assert stack.wait() == 1
    assert f"port {port} on 127.0.0.1 is already in use" in stack.output
    assert f"GATEWAY_PORT={port + 1} make run" in stack.output
    assert not (tmp_path / "redis").exists()  # nothing was started
