"""`make run`: the whole stack on one machine, in one terminal, stopped by Ctrl-C.

Order: single-instance lock -> Redis (embedded unless REDIS_URL) -> FAQ index build
(one-shot, reuses its cache) -> bot training (only when `bot/` changed) -> gateway (ready
when /readyz says 200; it serves Rasa's custom actions) -> Rasa servers (from `.venv-rasa`)
-> banner. The commands come from
`build_children(config, redis_url)`; tests call `main(config=..., children=...)` with
fake children.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import secrets as secrets_module
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from kit.redis import redact_url
from ops.instance_lock import AlreadyRunning, InstanceLock
from ops.output import Console
from ops.ports import port_is_free
from ops.proc import DEFAULT_STOP_TIMEOUT
from ops.redis_server import RedisError, RedisServer
from ops.supervisor import Child, HttpReady, Supervisor

ROOT = Path(__file__).resolve().parents[1]
SEARCH_EXAMPLE = "/api/search?q=ou+est+mon+colis"
# uvicorn reads whole WebSocket messages up to 16 MiB by default before the app's 8 KiB frame
# check sees them: cap what the server buffers, with room above the app's own limit.
WS_MAX_BYTES = 64 * 1024


@dataclass(frozen=True)
class Config:
    """Everything `make run` needs; `from_env()` reads the documented variables."""

    root: Path = ROOT
    var_dir: Path = ROOT / "var"
    kb_dir: Path = ROOT / "kb_content"
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8000
    rasa_port: int = 5005
    redis_url: str | None = None  # external Redis; None -> embedded
    redis_port: int | None = None  # embedded Redis: None -> 6379 if free, 0 -> any free port
    ready_timeout: float = 120.0
    stop_timeout: float = DEFAULT_STOP_TIMEOUT
    workers: int = 1   # gateway worker processes sharing the port (WORKERS)
    rasas: int = 1     # Rasa servers on rasa_port, rasa_port + 1, ... (RASA)
    forwarded_allow_ips: str = ""   # proxies trusted for X-Forwarded-For (FORWARDED_ALLOW_IPS): none
    metrics_token_set: bool = False  # METRICS_TOKEN given: /metrics readable (the gateway reads it)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Config:
        """Read KB_DIR, GATEWAY_HOST, GATEWAY_PORT, REDIS_URL, WORKERS, RASA, FORWARDED_ALLOW_IPS
        (ValueError if malformed)."""
        raw_port = environ.get("GATEWAY_PORT") or "8000"
        try:
            port = int(raw_port)
        except ValueError:
            raise ValueError(f"GATEWAY_PORT must be a port number, not {raw_port!r}") from None
        if not 0 < port < 65536:
            raise ValueError(f"GATEWAY_PORT must be between 1 and 65535, not {port}")
        kb = environ.get("KB_DIR")
        return cls(
            kb_dir=Path(kb).resolve() if kb else ROOT / "kb_content",
            gateway_host=environ.get("GATEWAY_HOST") or "127.0.0.1",
            gateway_port=port,
            redis_url=environ.get("REDIS_URL") or None,
            workers=_count(environ, "WORKERS"),
            rasas=_count(environ, "RASA"),
            forwarded_allow_ips=trusted_proxies(environ.get("FORWARDED_ALLOW_IPS") or ""),
            metrics_token_set=bool((environ.get("METRICS_TOKEN") or "").strip()),
        )

    @property
    def rasa_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{self.rasa_port + i}" for i in range(self.rasas)]

    @property
    def lock_path(self) -> Path:
        return self.var_dir / "run" / "ops.lock"

    @property
    def redis_dir(self) -> Path:
        return self.var_dir / "redis"

    @property
    def gateway_url(self) -> str:
        """URL to reach the gateway from this machine (0.0.0.0 -> 127.0.0.1)."""
        host = self.gateway_host
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.gateway_port}"


def _count(environ: Mapping[str, str], name: str, maximum: int = 16) -> int:
    raw = environ.get(name) or "1"
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise ValueError(f"{name} must be a number of processes between 1 and {maximum}, not {raw!r}")
    return int(raw)


def trusted_proxies(raw: str) -> str:
    """FORWARDED_ALLOW_IPS as uvicorn wants it: addresses or networks, comma-separated.

    uvicorn takes anything it cannot parse as a literal host name and `*` as "trust everyone",
    both silent ways to let any client choose its own address: refuse them here."""
    items = [item.strip() for item in raw.split(",") if item.strip()]
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False) if "/" in item else ipaddress.ip_address(item)
        except ValueError:
            raise ValueError(f"FORWARDED_ALLOW_IPS must list the proxy's IP addresses or networks "
                             f"(e.g. 10.0.0.5,10.1.0.0/16), not {item!r}") from None
    return ",".join(items)


def gateway_server_options(forwarded_allow_ips: str = "") -> list[str]:
    """uvicorn options every gateway server gets (make run, tests, bench): a WebSocket message cap,
    no per-message deflate (chat frames are a few hundred bytes: compressing each cost ~1 % of the
    gateway's CPU per turn, and compressed secrets beside shopper text invite CRIME-style guessing),
    and X-Forwarded-For honoured only from the configured proxies (none: the header is ignored,
    so a client cannot pick the address its failed logins and rate limits are counted under)."""
    if forwarded_allow_ips:
        proxies = ["--proxy-headers", "--forwarded-allow-ips", forwarded_allow_ips]
    else:
        proxies = ["--no-proxy-headers"]
    return ["--ws-max-size", str(WS_MAX_BYTES), "--ws-per-message-deflate", "false", *proxies]


def rasa_command(root: Path, port: int, *, interface: str = "127.0.0.1",
                 model: str = "models/bot.tar.gz") -> list[str]:
    """A Rasa server through bot/serve.py, which reads the API token from RASA_TOKEN: a token in
    argv would be readable by every local user (`ps`). Run with cwd=bot/."""
    return [str(root / ".venv-rasa" / "bin" / "python"), str(root / "bot" / "serve.py"), "run",
            "--enable-api", "--interface", interface, "--port", str(port), "--model", model,
            "--endpoints", "endpoints.yml", "--credentials", "credentials.yml"]


ChildFactory = Callable[[Config, str], list[Child]]


# No telemetry or error reports to Rasa's servers (nothing leaves the machine).
RASA_QUIET = {"RASA_TELEMETRY_ENABLED": "false", "SQLALCHEMY_SILENCE_UBER_WARNING": "1"}


def rasa_env(redis_url: str) -> dict[str, str]:
    """bot/endpoints.yml reads Redis as host/port/db/password: split REDIS_URL for it."""
    parts = urlsplit(redis_url)
    return {"REDIS_HOST": parts.hostname or "127.0.0.1", "REDIS_PORT": str(parts.port or 6379),
            "REDIS_DB": (parts.path or "/0").lstrip("/") or "0", "REDIS_PASSWORD": parts.password or ""}


def secrets(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """Tokens between our own processes: from the environment, else random for this run."""
    return {name: environ.get(name) or secrets_module.token_urlsafe(24)
            for name in ("RASA_TOKEN", "ACTION_TOKEN", "SURVEY_SECRET")}


def build_children(config: Config, redis_url: str) -> list[Child]:
    """The real stack, in start order. Add new processes here."""
    tokens = secrets()
    env = {"REDIS_URL": redis_url, "KB_DIR": str(config.kb_dir), "RASA_URL": ",".join(config.rasa_urls),
           **tokens, "PUBLIC_URL": os.environ.get("PUBLIC_URL") or config.gateway_url}
    python = sys.executable
    return [
        Child(
            "index",
            [python, "-m", "retrieval", "build", "--kb", str(config.kb_dir)],
            env=env,
            cwd=config.root,
            oneshot=True,
            timeout=None,  # first build embeds the whole FAQ; its output shows progress
        ),
        Child("train", [python, "-m", "ops.train"], cwd=config.root, oneshot=True, timeout=None),
        Child(
            "gateway",
            [
                python,
                "-m",
                "uvicorn",
                "gateway.app:app",
                "--host",
                config.gateway_host,
                "--port",
                str(config.gateway_port),
                "--timeout-graceful-shutdown",
                "5",  # finish before our SIGKILL deadline
                *(["--workers", str(config.workers)] if config.workers > 1 else []),
                *gateway_server_options(config.forwarded_allow_ips),
            ],  # fmt: skip
            env={**env, "GATEWAY_PORT": str(config.gateway_port)},
            cwd=config.root,
            ready=HttpReady(f"{config.gateway_url}/readyz"),
            timeout=config.ready_timeout,
        ),
        *(Child(
            "rasa" if i == 0 else f"rasa-{i + 1}",
            rasa_command(config.root, config.rasa_port + i),
            env={**rasa_env(redis_url), "ACTION_ENDPOINT_URL": f"{config.gateway_url}/webhook",
                 "ACTION_TOKEN": tokens["ACTION_TOKEN"], "RASA_TOKEN": tokens["RASA_TOKEN"], **RASA_QUIET},
            cwd=config.root / "bot",
            ready=HttpReady(f"{url}/"),
            timeout=max(config.ready_timeout, 180.0),  # TensorFlow takes a while to load
        ) for i, url in enumerate(config.rasa_urls)),
    ]


def banner(config: Config, redis: RedisServer) -> str:
    """What the user needs once everything is up."""
    url = config.gateway_url
    where = "external (REDIS_URL)" if redis.external else f"embedded, data in {redis.data_dir}"
    lines = [
        "Shop support bot is running",
        f"  demo shop {url}/demo   (the chat widget, as a shop embeds it)",
        f"  console   {url}/console   (agents; create one: .venv/bin/python -m handoff agents add EMAIL "
        "--role admin)",
        f"  help      {url}/help",
        f"  gateway   {url}",
        f"  search    {url}{SEARCH_EXAMPLE}",
        f"  health    {url}/healthz   (readiness: {url}/readyz; details with the metrics token)",
        f"  metrics   {url}/metrics   " + ('(curl -H "Authorization: Bearer $METRICS_TOKEN" ...)'
                                           if config.metrics_token_set else
                                           "(refused: set METRICS_TOKEN, then send it as a Bearer token)"),
        f"  rasa      {', '.join(config.rasa_urls)}   (only the gateway talks to it: X-Gateway-Token)",
        f"  chat      ws{url.removeprefix('http')}/ws/chat   (widget WebSocket; HTTP: {url}/api/chat/...)",
        f"  redis     {redact_url(redis.url)}   ({where})",
        f"  layout    {config.workers} gateway worker(s), {config.rasas} Rasa server(s) (WORKERS=, RASA=)",
        "Ctrl-C to stop",
    ]
    if config.gateway_host in ("", "0.0.0.0", "::"):
        lines.insert(2, f"  (listening on all interfaces, port {config.gateway_port})")
    rule = "=" * max(map(len, lines))
    return "\n".join([rule, *lines, rule])


def main(
    argv: list[str] | None = None,
    *,
    config: Config | None = None,
    children: ChildFactory = build_children,
) -> int:
    """Run the stack until Ctrl-C/SIGTERM (exit 0) or until something fails (exit 1)."""
    argparse.ArgumentParser(
        prog="python -m ops.run",
        description="Start Redis, build the FAQ index, start the gateway; Ctrl-C stops all.",
        epilog="Configured by environment: GATEWAY_PORT (8000), GATEWAY_HOST (127.0.0.1), "
        "KB_DIR (kb_content), REDIS_URL (unset: embedded Redis in var/redis), WORKERS (1 gateway "
        "worker process), RASA (1 Rasa server), FORWARDED_ALLOW_IPS (proxies trusted for "
        "X-Forwarded-For: none), METRICS_TOKEN (unset: /metrics and /readyz details refused).",
    ).parse_args(argv or [])
    try:
        config = config or Config.from_env()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    console = Console(log_dir=config.var_dir / "log")
    lock = InstanceLock(config.lock_path, gateway_url=config.gateway_url)
    try:
        lock.acquire()
    except AlreadyRunning as exc:
        print(exc, file=sys.stderr)
        return 1
    with lock:
        if not port_is_free(config.gateway_host, config.gateway_port):
            print(
                f"error: port {config.gateway_port} on {config.gateway_host} is already in use "
                f"by another program, so the gateway cannot start; free it or pick another "
                f"port, e.g. `GATEWAY_PORT={config.gateway_port + 1} make run`",
                file=sys.stderr,
            )
            return 1
        supervisor = Supervisor([], console=console, stop_timeout=config.stop_timeout)
        supervisor.install_signal_handlers()
        redis = RedisServer(
            port=config.redis_port,
            data_dir=config.redis_dir,
            url=config.redis_url,
            use_env=False,
            stop_timeout=config.stop_timeout,
            appendfsync="always",  # an acknowledged ticket or message survives a crash
        )
        supervisor.console.fit(["redis"])
        try:
            try:
                redis.start()
            except RedisError as exc:
                console.line("redis", f"ERROR: {exc}")
                return 1
            if redis.external:
                console.line("redis", f"using {redact_url(redis.url)} (REDIS_URL)")
            else:
                console.line(
                    "redis",
                    f"started at {redis.url} (pid {redis.pid}, data in {redis.data_dir}, "
                    f"log {redis.log_path})",
                )
                supervisor.add_watch("redis", redis.poll)
            supervisor.add(*children(config, redis.url))
            code = supervisor.run(on_ready=lambda: console.write(banner(config, redis)))
        finally:
            if redis.pid is not None:
                console.line("redis", f"stopping (pid {redis.pid})")
            redis.stop()
        console.say("stopped" if code == 0 else "stopped after a failure (see above)")
        return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
