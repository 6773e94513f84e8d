"""Real processes on loopback for tests and benchmarks: the gateway (uvicorn) and a Rasa server."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import yaml

from conversation.language import message_language
from ops import proc
from ops.ports import free_port
from ops.run import RASA_QUIET, gateway_server_options, rasa_command, rasa_env
from retrieval.text import LanguageDetector

REPO = Path(__file__).resolve().parents[1]
RASA = REPO / ".venv-rasa" / "bin" / "rasa"
MODEL = REPO / "bot" / "models" / "bot.tar.gz"
RASA_TOKEN = "rasa-test-token"  # RASA_TOKEN of every rasa() server: its API token and channel secret
METRICS_TOKEN = "metrics-test-token"  # METRICS_TOKEN of every gateway(): /metrics, /readyz details
CHANNEL_PATH = "/webhooks/gateway/webhook"  # bot/gateway_channel.py, the gateway's only way in
CHANNEL_HEADER = "X-Gateway-Token"
# Every simulated shopper of a test or benchmark comes from 127.0.0.1: the per-address budgets
# (gateway.ratelimit) get a crowd's size; the per-conversation ones keep their defaults.
LOOPBACK_LIMITS = {"CHAT_ADDRESS_RATE_LIMIT": "100000/60", "CONVERSATION_RATE_LIMIT": "100000/60",
                   "TICKET_ADDRESS_RATE_LIMIT": "100000/60"}
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
OPEN_ALWAYS = {d: ["00:00-24:00"] for d in DAYS}


def closed_today() -> dict[str, list[str]]:
    """Open one day a week, three days from now: closed today, with a real next opening."""
    day = (datetime.now(ZoneInfo("Europe/Paris")) + timedelta(days=3)).weekday()
    return {DAYS[day]: ["09:00-18:00"]}


def shop_yaml(weekly: dict[str, list[str]], extra: Mapping[str, object] | None = None) -> str:
    """A shop with these opening hours (and `extra` top-level sections); the rest
    (contact-reason matrix, surveys) as shipped."""
    shipped = yaml.safe_load((REPO / "config" / "shop.yml").read_text(encoding="utf-8"))
    days = "\n".join(f"    {d}: {weekly.get(d, [])!r}".replace("'", '"') for d in DAYS)
    return (f"shop: {{name: Test shop, languages: [fr, en], default_language: fr}}\n"
            f"hours:\n  timezone: Europe/Paris\n  weekly:\n{days}\n"
            f"  holidays: {{country: null}}\nsla: {{ticket_reply_business_hours: 8}}\n"
            + yaml.safe_dump({**{k: shipped[k] for k in ("contact_reasons", "surveys")}, **(extra or {})}))


def wait_http(url: str, timeout: float, proc_handle=None, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc_handle is not None and proc_handle.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log else ""
            raise RuntimeError(f"process exited ({proc_handle.returncode}) before {url} answered:\n{tail}")
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    tail = log.read_text(errors="replace")[-3000:] if log else ""
    raise TimeoutError(f"{url} not ready after {timeout:.0f} s:\n{tail}")


@dataclass
class Gateway:
    url: str
    token: str
    process: object
    metrics_token: str = METRICS_TOKEN

    @property
    def metrics_auth(self) -> dict[str, str]:
        """Headers for /metrics and the details of /readyz."""
        return {"Authorization": f"Bearer {self.metrics_token}"}


@contextmanager
def gateway(redis_url: str, tmp: Path, *, shop_config: Path, token: str = "integration-token",
            kb_dir: Path = REPO / "kb_content", index_dir: Path | None = None,
            extra_env: Mapping[str, str] | None = None, forwarded_allow_ips: str = "") -> Iterator[Gateway]:
    """A gateway server with the options `make run` gives it (ops.run.gateway_server_options)."""
    port = free_port()
    log = tmp / f"gateway-{port}.log"
    env = {**os.environ, "REDIS_URL": redis_url, "KB_DIR": str(kb_dir),
           "INDEX_DIR": str(index_dir or tmp / "index"), "ACTION_TOKEN": token,
           "METRICS_TOKEN": METRICS_TOKEN, "SHOP_CONFIG": str(shop_config), "HF_HUB_OFFLINE": "1",
           "ATTACHMENTS_DIR": str(tmp / f"attachments-{port}"), **LOOPBACK_LIMITS, **(extra_env or {})}
    with log.open("wb") as out:
        p = proc.spawn([sys.executable, "-m", "uvicorn", "gateway.app:app", "--host", "127.0.0.1",
                        "--port", str(port), *gateway_server_options(forwarded_allow_ips)],
                       env=env, cwd=REPO, stdout=out, stderr=out)
    try:
        wait_http(f"http://127.0.0.1:{port}/readyz", 240, p, log)
        yield Gateway(f"http://127.0.0.1:{port}", token, p, env["METRICS_TOKEN"])
    finally:
        proc.terminate(p)


@cache
def _detector() -> LanguageDetector:
    return LanguageDetector(["fr", "en"])


@dataclass
class Rasa:
    """A running Rasa server; one kept-alive HTTP client, so a benchmark times Rasa and not
    the set-up of a new connection per message."""

    url: str
    token: str
    process: object
    log: Path
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=60))

    def say(self, sender: str, text: str, metadata: dict | None = None) -> list[dict]:
        """One turn through the gateway's channel, as the gateway sends it: with the message's
        language decided by the gateway's rule (conversation/language.py) unless given."""
        if metadata is None:
            lang = message_language(_detector(), text)
            metadata = {"lang": lang} if lang else {}
        res = self.http.post(f"{self.url}{CHANNEL_PATH}", headers={CHANNEL_HEADER: self.token},
                             json={"sender": sender, "message": text, "metadata": metadata})
        res.raise_for_status()
        return res.json()

    def parse(self, text: str) -> dict:
        """NLU only: intent ranking and entities for a text."""
        res = self.http.post(f"{self.url}/model/parse", params={"token": self.token},
                             json={"text": text})
        res.raise_for_status()
        return res.json()

    def tracker(self, sender: str) -> dict:
        res = self.http.get(f"{self.url}/conversations/{sender}/tracker", params={"token": self.token})
        res.raise_for_status()
        return res.json()


@contextmanager
def rasa(redis_url: str, gateway_url: str, action_token: str, tmp: Path,
         port: int | None = None) -> Iterator[Rasa]:
    port = port or free_port()
    token = RASA_TOKEN
    log = tmp / f"rasa-{port}.log"
    env = {**os.environ, **rasa_env(redis_url), "ACTION_ENDPOINT_URL": f"{gateway_url}/webhook",
           "ACTION_TOKEN": action_token, "RASA_TOKEN": token, **RASA_QUIET}
    with log.open("wb") as out:
        p = proc.spawn(rasa_command(REPO, port, model=str(MODEL)), env=env, cwd=REPO / "bot",
                       stdout=out, stderr=out)
    bot = Rasa(f"http://127.0.0.1:{port}", token, p, log)
    try:
        wait_http(f"http://127.0.0.1:{port}/", 300, p, log)
        yield bot
    finally:
        bot.http.close()
        proc.terminate(p)


@contextmanager
def stack(redis_url: str, tmp: Path, *, shop_config: Path, index_dir: Path | None = None,
          extra_env: Mapping[str, str] | None = None) -> Iterator[tuple[Gateway, Rasa]]:
    """Gateway -> Rasa (RASA_URL, RASA_TOKEN) and Rasa -> gateway (custom actions), both real
    processes wired to each other, as in production: a cluster of one."""
    with cluster(redis_url, tmp, 1, shop_config=shop_config, index_dir=index_dir,
                 extra_env=extra_env) as ([gw], [bot]):
        yield gw, bot


@contextmanager
def cluster(redis_url: str, tmp: Path, n: int, *, shop_config: Path, index_dir: Path | None = None,
            extra_env: Mapping[str, str] | None = None) -> Iterator[tuple[list[Gateway], list[Rasa]]]:
    """`n` gateways and `n` Rasa servers on one Redis, as `make run WORKERS=n RASA=n` scales out:
    every gateway sends turns to every Rasa server (RASA_URL lists them all, round robin), each
    Rasa server runs its custom actions on one gateway."""
    ports = [free_port() for _ in range(n)]
    env = {"RASA_URL": ",".join(f"http://127.0.0.1:{port}" for port in ports), "RASA_TOKEN": RASA_TOKEN,
           **(extra_env or {})}
    with ExitStack() as stack:
        gateways = [stack.enter_context(gateway(redis_url, tmp, shop_config=shop_config, index_dir=index_dir,
                                                extra_env=env)) for _ in range(n)]
        bots = [stack.enter_context(rasa(redis_url, gw.url, gw.token, tmp, port=port))
                for port, gw in zip(ports, gateways, strict=True)]
        yield gateways, bots
