"""Start child processes in order, stream their output, stop them all together.

A `Child` is either a service (long-running; up once its readiness check
passes) or a one-shot step (must exit 0 before the next child starts, e.g. the
index build). If anything dies unexpectedly the supervisor says which one and
how, and stops the rest: a half-running stack is worse than a stopped one.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Protocol

from ops import proc
from ops.output import SELF, Console

PROGRESS_EVERY = 5.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class ReadyCheck(Protocol):
    """Readiness probe: True once the service can take traffic."""

    def __call__(self) -> bool: ...

    def status(self) -> str:
        """Last observation, shown in progress and timeout messages."""
        ...


class HttpReady:
    """Ready when GET `url` answers 200 (never through an HTTP proxy)."""

    _opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def __init__(self, url: str, timeout: float = 2.0) -> None:
        self.url = url
        self.timeout = timeout
        self._last = "not polled yet"

    def __call__(self) -> bool:
        try:
            with self._opener.open(self.url, timeout=self.timeout) as resp:
                self._last = f"HTTP {resp.status}"
                return bool(resp.status == 200)
        except urllib.error.HTTPError as exc:
            self._last = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            self._last = str(getattr(exc, "reason", exc))
        return False

    def status(self) -> str:
        return f"GET {self.url} -> {self._last}"


@dataclass(frozen=True)
class Child:
    """What to run. `env` is added to the supervisor's environment.

    `timeout`: for a service, how long it may take to become ready; for a
    one-shot step, how long it may run (None: no limit).
    """

    name: str
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    ready: ReadyCheck | None = None
    timeout: float | None = 120.0
    oneshot: bool = False


def _show(argv: Sequence[str]) -> str:
    """Command line for the console, on one line (inline scripts elided)."""
    return " ".join("'...'" if "\n" in arg else shlex.quote(arg) for arg in argv)


class _Failure(Exception):
    """A child failed; the message is shown to the user."""


@dataclass
class _Running:
    child: Child
    popen: subprocess.Popen[bytes]
    pump: threading.Thread
    started: float = field(default_factory=time.monotonic)


class Supervisor:
    """Runs `children` in order; `watch` adds processes started elsewhere (e.g.
    Redis) whose death must also stop everything: name -> poll() returning an
    exit code once dead, else None."""

    def __init__(
        self,
        children: Sequence[Child],
        *,
        console: Console | None = None,
        watch: Mapping[str, Callable[[], int | None]] | None = None,
        stop_timeout: float = proc.DEFAULT_STOP_TIMEOUT,
        poll_interval: float = 0.1,
    ) -> None:
        self.children: list[Child] = []
        self.watch: dict[str, Callable[[], int | None]] = {}
        self.console = console or Console()
        self.console.fit([SELF])
        self.add(*children)
        for name, poll in (watch or {}).items():
            self.add_watch(name, poll)
        self.stop_timeout = stop_timeout
        self.poll_interval = poll_interval
        self._running: list[_Running] = []
        self._stop_reason: str | None = None
        self._stopping = False

    # -- control -------------------------------------------------------------

    def add(self, *children: Child) -> None:
        """Append children (before run()): they start after the ones already added."""
        self.children.extend(children)
        self.console.fit([c.name for c in children])

    def add_watch(self, name: str, poll: Callable[[], int | None]) -> None:
        """Also stop everything if this externally started process dies."""
        self.watch[name] = poll
        self.console.fit([name])

    @property
    def pids(self) -> dict[str, int]:
        """Pids of the children currently running, by name."""
        return {r.child.name: r.popen.pid for r in self._running if r.popen.poll() is None}

    @property
    def stop_requested(self) -> bool:
        return self._stop_reason is not None

    def request_stop(self, reason: str = "stop requested") -> None:
        """Ask run() to stop everything and return (safe from a signal handler)."""
        if self._stop_reason is None:
            self._stop_reason = reason
        elif self._stopping:  # asked twice: no more patience
            for running in self._running:
                proc.kill_group(running.popen)

    def install_signal_handlers(self) -> None:
        """Ctrl-C, SIGTERM and SIGHUP request an orderly stop; a second one kills."""

        def handler(signum: int, _frame: FrameType | None) -> None:
            self.request_stop(f"got {signal.Signals(signum).name}")

        for sig in STOP_SIGNALS:
            signal.signal(sig, handler)

    # -- main loop -----------------------------------------------------------

    def run(self, on_ready: Callable[[], None] | None = None) -> int:
        """Start all children, call `on_ready`, supervise until a stop request (-> 0)
        or a failure (-> 1). Every child is stopped before returning."""
        try:
            for child in self.children:
                if self.stop_requested:
                    break
                running = self._start(child)
                if child.oneshot:
                    self._wait_finished(running)
                else:
                    self._wait_ready(running)
            if not self.stop_requested and on_ready is not None:
                on_ready()
            while not self.stop_requested:
                self._check_alive()
                time.sleep(self.poll_interval)
            self.console.say(f"{self._stop_reason}: stopping")
            return 0
        except _Failure as exc:
            self.console.say(f"ERROR: {exc}")
            self.console.say("stopping everything else")
            return 1
        finally:
            self.stop_all()

    def stop_all(self) -> None:
        """Stop running children, last started first (SIGTERM, SIGKILL after a timeout)."""
        self._stopping = True
        self._stop_reason = self._stop_reason or "stopping"
        for running in reversed(self._running):
            if running.popen.poll() is None:
                self.console.say(f"stopping {running.child.name} (pid {running.popen.pid})")
            code = proc.terminate(running.popen, self.stop_timeout)
            running.pump.join(timeout=2)
            if code == -signal.SIGKILL:
                self.console.say(f"{running.child.name} had to be killed")
        self._running.clear()

    # -- internals -----------------------------------------------------------

    def _start(self, child: Child) -> _Running:
        self.console.say(f"starting {child.name}: {_show(child.argv)}")
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **child.env}
        try:
            popen = proc.spawn(
                child.argv,
                env=env,
                cwd=child.cwd,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        except OSError as exc:
            raise _Failure(f"cannot start {child.name}: {exc}") from exc
        assert popen.stdout is not None
        running = _Running(child, popen, self.console.pump(child.name, popen.stdout))
        self._running.append(running)
        return running

    def _exited(self, running: _Running) -> int | None:
        """Exit code if the child has exited (after flushing its last output)."""
        code = running.popen.poll()
        if code is not None:
            running.pump.join(timeout=2)
        return code

    def _check_alive(self) -> None:
        """Raise _Failure if a service (one-shot steps are awaited elsewhere) has died."""
        for running in self._running:
            code = None if running.child.oneshot else self._exited(running)
            if code is not None:
                raise _Failure(
                    f"{running.child.name} exited unexpectedly ({proc.describe_exit(code)})"
                )
        for name, poll in self.watch.items():
            code = poll()
            if code is not None:
                raise _Failure(f"{name} exited unexpectedly ({proc.describe_exit(code)})")

    def _wait_finished(self, running: _Running) -> None:
        child = running.child
        while not self.stop_requested:
            code = self._exited(running)
            if code is not None:
                self._running.remove(running)
                elapsed = time.monotonic() - running.started
                if code != 0:
                    raise _Failure(f"{child.name} failed ({proc.describe_exit(code)})")
                self.console.say(f"{child.name} done in {elapsed:.1f} s")
                return
            if child.timeout is not None and time.monotonic() - running.started > child.timeout:
                raise _Failure(f"{child.name} did not finish within {child.timeout:.0f} s")
            self._check_alive()
            time.sleep(self.poll_interval)

    def _wait_ready(self, running: _Running) -> None:
        child = running.child
        check = child.ready
        next_progress = running.started + PROGRESS_EVERY
        next_probe, probe_gap = 0.0, 0.2  # backs off to 2 s: probes end up in access logs
        while not self.stop_requested:
            self._check_alive()
            if check is None:
                return
            now = time.monotonic()
            if now >= next_probe:
                if check():
                    self.console.say(f"{child.name} ready in {now - running.started:.1f} s")
                    return
                next_probe = time.monotonic() + probe_gap
                probe_gap = min(probe_gap * 1.5, 2.0)
            if child.timeout is not None and now - running.started > child.timeout:
                raise _Failure(
                    f"{child.name} not ready after {child.timeout:.0f} s ({check.status()})"
                )
            if now >= next_progress:
                self.console.say(
                    f"waiting for {child.name}... {now - running.started:.0f} s ({check.status()})"
                )
                next_progress += PROGRESS_EVERY
            time.sleep(self.poll_interval)
