"""Spawn and stop child processes so that none is ever left behind.

Every child gets its own process group (a terminal Ctrl-C reaches only the
supervisor, which then stops children in order) and a parent-death SIGKILL (a
parent that is itself SIGKILLed still takes its children down). Stopping signals the whole
group, so grandchildren go too.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

_DEATHSIG = str(Path(__file__).with_name("_deathsig.py"))

DEFAULT_STOP_TIMEOUT = 10.0


def spawn(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    stdout: int | IO[Any] | None = None,
    stderr: int | IO[Any] | None = None,
) -> subprocess.Popen[bytes]:
    """Start `argv` in a new process group, tied to this thread's lifetime.

    Raises FileNotFoundError up front when the program does not exist (the
    wrapper would otherwise only report it as exit code 127).
    Note: Linux sends the death signal when the *thread* that spawned the child
    ends, so spawn long-lived processes from the main thread.
    """
    program = shutil.which(argv[0]) if os.sep not in argv[0] else argv[0]
    if program is None or not os.access(program, os.X_OK):
        raise FileNotFoundError(f"program not found or not executable: {argv[0]}")
    wrapped = [sys.executable, "-I", "-S", _DEATHSIG, str(os.getpid()), program, *argv[1:]]
    return subprocess.Popen(
        wrapped,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        process_group=0,
    )


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def wait_for_exit(proc: subprocess.Popen[bytes], timeout: float) -> int | None:
    """Poll until the process exits (signals can still interrupt us); None on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        code = proc.poll()
        if code is not None or time.monotonic() >= deadline:
            return code
        time.sleep(0.05)


def terminate(proc: subprocess.Popen[bytes], timeout: float = DEFAULT_STOP_TIMEOUT) -> int:
    """SIGTERM the process group, wait up to `timeout`, then SIGKILL it. Returns the exit code."""
    if proc.poll() is None:
        _signal_group(proc, signal.SIGTERM)
        if wait_for_exit(proc, timeout) is None:
            _signal_group(proc, signal.SIGKILL)
    code = proc.wait()
    _signal_group(proc, signal.SIGKILL)  # grandchildren that outlived the leader
    return code


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process group without waiting (safe in a signal handler)."""
    _signal_group(proc, signal.SIGKILL)


def kill(proc: subprocess.Popen[bytes]) -> int:
    """SIGKILL the process group and reap it (fault tests). Returns the exit code."""
    kill_group(proc)
    return proc.wait()


def describe_exit(code: int) -> str:
    """'exit code 3' or 'killed by SIGKILL' for messages."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
