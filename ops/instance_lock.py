"""One `make run` at a time: an flock'ed file in var/run/ naming the running instance.

The kernel drops an flock when its holder dies, however it dies, so a lock file
left by a crashed run is simply taken over: no stale-pid guessing.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path
from types import TracebackType


class AlreadyRunning(RuntimeError):
    """Another live process holds the lock; the message tells the user how to stop it."""

    def __init__(self, pid: int | None, gateway_url: str | None) -> None:
        self.pid = pid
        self.gateway_url = gateway_url
        who = f"pid {pid}" if pid else "pid unknown"
        where = f", gateway at {gateway_url}" if gateway_url else ""
        how = f"`kill {pid}`" if pid else "stopping that process"
        super().__init__(
            f"already running ({who}{where}); stop it with Ctrl-C in its terminal or {how}"
        )


class InstanceLock:
    """Exclusive, non-blocking lock on `path`, recording our pid and gateway URL."""

    def __init__(self, path: str | os.PathLike[str], gateway_url: str | None = None) -> None:
        self.path = Path(path)
        self.gateway_url = gateway_url
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> InstanceLock:
        """Take the lock or raise AlreadyRunning at once (never waits)."""
        if self._fd is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pid, url = _read_holder(fd)
                os.close(fd)
                raise AlreadyRunning(pid, url) from None
            if _same_file(fd, self.path):
                break
            os.close(fd)  # the holder removed the file as we locked it: retry on the new one
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "gateway_url": self.gateway_url}).encode())
        os.fsync(fd)
        self._fd = fd
        return self

    def release(self) -> None:
        """Remove the lock file, then unlock (in that order, see `_same_file`)."""
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> InstanceLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    fst = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (fst.st_dev, fst.st_ino)


def _read_holder(fd: int) -> tuple[int | None, str | None]:
    """(pid, gateway_url) as written by the holder; Nones if it is just starting."""
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        data = {}
    if not isinstance(data, dict):
        data = {}
    pid, url = data.get("pid"), data.get("gateway_url")
    return (pid if isinstance(pid, int) else None, url if isinstance(url, str) else None)
