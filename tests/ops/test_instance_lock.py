"""The single-instance lock behind `make run`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ops.instance_lock import AlreadyRunning, InstanceLock

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(30)


def test_second_acquire_fails_with_a_helpful_message(tmp_path: Path) -> None:
    path = tmp_path / "run" / "ops.lock"
    with InstanceLock(path, gateway_url="http://127.0.0.1:8000"):
        assert json.loads(path.read_text()) == {
            "pid": os.getpid(),
            "gateway_url": "http://127.0.0.1:8000",
        }
        with pytest.raises(AlreadyRunning) as err:
            InstanceLock(path, gateway_url="http://127.0.0.1:9999").acquire()
    assert err.value.pid == os.getpid()
    assert str(err.value) == (
        f"already running (pid {os.getpid()}, gateway at http://127.0.0.1:8000); "
        f"stop it with Ctrl-C in its terminal or `kill {os.getpid()}`"
    )
    assert not path.exists()  # released and removed
    with InstanceLock(path):  # free again
        pass


def test_lock_of_a_crashed_run_is_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "ops.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from ops.instance_lock import InstanceLock; "
            "InstanceLock(sys.argv[1], 'http://x').acquire(); print('locked', flush=True); "
            "time.sleep(60)",
            str(path),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        with pytest.raises(AlreadyRunning, match=f"pid {holder.pid}, gateway at http://x"):
            InstanceLock(path).acquire()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert path.exists()  # a crash leaves the file behind...
    with InstanceLock(path, gateway_url="http://y"):  # ...but not the lock
        assert json.loads(path.read_text())["pid"] == os.getpid()


def test_garbage_lock_file_is_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "ops.lock"
    path.write_text("not json")
    with InstanceLock(path) as lock:
        assert lock.held
