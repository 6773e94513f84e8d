"""`python -m bench.web` (part of `make bench`): the web channel under concurrent load.

50 shoppers at once, each on its own WebSocket (`/ws/chat`), each asking a few FAQ questions
of kb_content/eval.csv one at a time (the next one once the bot's reply has started to
arrive), against a real Redis, gateway and Rasa wired together. The baseline, in the same
run and on the same stack: as many concurrent senders asking Rasa the same questions
directly on its REST webhook. The difference is what the gateway's channel adds (socket,
storing in Redis, routing, publishing the reply); the bot turn itself (Rasa -> /webhook ->
retriever) is in both. Afterwards every transcript is read back over HTTP to check that
each shopper message was stored exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from websockets.asyncio.client import ClientConnection, connect

from kit import texts
from ops.redis_server import RedisServer
from ops.train import train
from tests.stack import CHANNEL_HEADER, CHANNEL_PATH, RASA_TOKEN, REPO, cluster

TIMEOUT_S = 60.0
# the router's reply when Rasa fails
BOT_DOWN = {texts.text(lang, "conversation.bot_down") for lang in texts.LANGS}


def log(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def faq_questions(path: Path) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8") as f:
        return [(row["query"], row["lang"]) for row in csv.DictReader(f)
                if row["expected_id"] and not row.get("context")]


def pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 1) if values else float("nan")


@dataclass
class Run:
    """One load run: a latency per answered message, errors by kind, wall time."""

    path: str
    total: int
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    wall_s: float = 0.0
    done: int = 0

    def finished(self, latency_ms: float | None = None, error: str = "") -> None:
        if error:
            self.errors[error] += 1
        elif latency_ms is not None:
            self.latencies_ms.append(latency_ms)
        self.done += 1
        if self.done % max(self.total // 4, 1) == 0 or self.done == self.total:
            log(f"  {self.path}: {self.done}/{self.total} messages, {sum(self.errors.values())} errors")

    def rate(self) -> float:
        """Answered messages per second of wall time."""
        return len(self.latencies_ms) / self.wall_s if self.wall_s else 0.0

    def row(self) -> str:
        n_err = sum(self.errors.values())
        errors = f"{n_err} ({', '.join(f'{k}: {v}' for k, v in self.errors.most_common())})" if n_err else "0"
        return (f"| {self.path} | {self.total} | {self.rate():.1f} | {pct(self.latencies_ms, 50)} | "
                f"{pct(self.latencies_ms, 95)} | {errors} |")


# -- Rasa directly (REST webhook) -------------------------------------------------------


async def rasa_sender(http: httpx.AsyncClient, url: str, sender: str, questions: list[tuple[str, str]],
                      run: Run) -> None:
    for text, lang in questions:
        t0 = time.perf_counter()
        try:
            res = await http.post(f"{url}{CHANNEL_PATH}", headers={CHANNEL_HEADER: RASA_TOKEN}, json={
                "sender": sender, "message": text, "metadata": {"channel": "web", "lang": lang}})
            res.raise_for_status()
            replies = res.json()
        except httpx.TimeoutException:
            run.finished(error="timeout")
            continue
        except (httpx.HTTPError, ValueError) as exc:
            run.finished(error=type(exc).__name__)
            continue
        if not any(r.get("text") or r.get("buttons") for r in replies):
            run.finished(error="no reply")
        else:
            run.finished((time.perf_counter() - t0) * 1000)


async def rasa_direct(urls: str | list[str], plan: list[list[tuple[str, str]]], run: Run) -> None:
    """Each sender on one Rasa server (round robin over `urls`)."""
    urls = [urls] if isinstance(urls, str) else urls
    limits = httpx.Limits(max_connections=len(plan) + 5, max_keepalive_connections=len(plan) + 5)
    async with httpx.AsyncClient(timeout=TIMEOUT_S, limits=limits) as http:
        tag = uuid.uuid4().hex[:8]
        t0 = time.perf_counter()
        await asyncio.gather(*(rasa_sender(http, urls[i % len(urls)], f"bench-web-{tag}-{i}", qs, run)
                               for i, qs in enumerate(plan)))
        run.wall_s = time.perf_counter() - t0


# -- the gateway's WebSocket -----------------------------------------------------------


@dataclass
class Conversation:
    cid: str = ""
    sent: list[str] = field(default_factory=list)  # message_ids the server did not refuse


async def first_reply(ws: ClientConnection, cid: str, mid: str) -> tuple[float, str]:
    """Frames until the first bot message answering `mid`: (perf_counter at arrival, error).

    A reply can be several bot messages, and the tail of the previous reply may still
    arrive after this question was sent. Bot messages answering this question are created
    after the server stored it, so they are told apart by their timestamp compared with
    the echo of the shopper's own message (published before its routing starts)."""
    stored_at: float | None = None
    while True:
        frame = json.loads(await ws.recv())
        kind = frame.get("type")
        if kind == "error" and frame.get("message_id") == mid:
            return time.perf_counter(), f"error {frame.get('status')}"
        if kind != "message":
            continue
        msg = frame["message"]
        if msg.get("role") == "shopper" and msg.get("message_id") == f"web:{cid}:{mid}":
            stored_at = float(msg["timestamp"])
        elif msg.get("role") == "bot" and stored_at is not None and float(msg["timestamp"]) > stored_at:
            return time.perf_counter(), "bot down" if msg.get("text") in BOT_DOWN else ""


async def web_shopper(ws_url: str, questions: list[tuple[str, str]], run: Run, conv: Conversation) -> None:
    accounted = 0
    try:
        async with connect(ws_url, open_timeout=TIMEOUT_S, max_size=2**22) as ws:
            welcome = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT_S))
            conv.cid = welcome["conversation_id"]
            for n, (text, _lang) in enumerate(questions, 1):
                mid = f"q{n}"
                t0 = time.perf_counter()
                await ws.send(json.dumps({"type": "message", "text": text, "message_id": mid},
                                         ensure_ascii=False))
                conv.sent.append(mid)
                try:
                    at, error = await asyncio.wait_for(first_reply(ws, conv.cid, mid), TIMEOUT_S)
                except TimeoutError:
                    at, error = time.perf_counter(), "timeout"
                if error.startswith("error"):
                    conv.sent.remove(mid)  # refused: not stored
                accounted += 1
                run.finished((at - t0) * 1000, error)
    except Exception as exc:  # a dropped socket: count what was not answered, keep the others going
        for _ in range(len(questions) - accounted):
            run.finished(error=type(exc).__name__)


async def web_load(ws_urls: str | list[str], plan: list[list[tuple[str, str]]],
                   run: Run) -> list[Conversation]:
    """Each conversation on one gateway (round robin over `ws_urls`)."""
    urls = [ws_urls] if isinstance(ws_urls, str) else ws_urls
    convs = [Conversation() for _ in plan]
    t0 = time.perf_counter()
    await asyncio.gather(*(web_shopper(urls[i % len(urls)], qs, run, c)
                           for i, (qs, c) in enumerate(zip(plan, convs, strict=True))))
    run.wall_s = time.perf_counter() - t0
    return convs


def check_transcripts(gateway_url: str, convs: list[Conversation]) -> tuple[int, int, int]:
    """(lost, duplicated, unreadable conversations): each accepted shopper message stored once."""
    lost = duplicated = unreadable = 0
    with httpx.Client(base_url=gateway_url, timeout=30) as http:
        for conv in convs:
            if not conv.cid:
                continue
            res = http.get(f"/api/chat/conversations/{conv.cid}/messages")
            if res.status_code != 200:
                unreadable += 1
                continue
            seen = Counter(m["message_id"] for m in res.json()["messages"] if m["role"] == "shopper")
            for mid in conv.sent:
                count = seen.pop(f"web:{conv.cid}:{mid}", 0)
                lost += count == 0
                duplicated += max(count - 1, 0)
            duplicated += sum(seen.values())  # shopper messages we never sent (or refused ones stored)
    return lost, duplicated, unreadable


async def warm_up(gateway_url: str, rasa_url: str, questions: list[tuple[str, str]]) -> None:
    run = Run("warm-up", 2 * len(questions))
    async with httpx.AsyncClient(timeout=TIMEOUT_S) as http:
        await rasa_sender(http, rasa_url, f"bench-web-warm-{uuid.uuid4().hex[:8]}", questions, run)
    await web_shopper(gateway_url.replace("http", "ws", 1) + "/ws/chat", questions, run, Conversation())
    if run.errors:
        log(f"  warm-up errors: {dict(run.errors)}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--conversations", type=int, default=50, help="concurrent conversations (and senders)")
    p.add_argument("--questions", type=int, default=4, help="FAQ questions per conversation")
    p.add_argument("--scale", type=int, default=1, help="gateways and Rasa servers (as many of each)")
    args = p.parse_args()
    with contextlib.redirect_stdout(sys.stderr):  # keep stdout for the markdown
        train()
    pool = faq_questions(REPO / "kb_content" / "eval.csv")
    # two plans of different questions: the retriever keeps recent query vectors, so the gateway's
    # run must not ask what the baseline just asked
    step = max(len(pool) // (2 * args.conversations * args.questions), 1)
    spread = pool[::step]
    plans = [[[spread[(2 * (i * args.questions + j) + half) % len(spread)] for j in range(args.questions)]
              for i in range(args.conversations)] for half in (0, 1)]
    plan = plans[1]
    total = args.conversations * args.questions
    tmp = Path(tempfile.mkdtemp(prefix="bench-web-"))
    n = args.scale
    log(f"bench.web: starting Redis, {n} gateway(s) and {n} Rasa (logs in {tmp}; Rasa takes ~1 min)")
    started = time.perf_counter()
    with RedisServer(port=0, data_dir=tmp / "redis", use_env=False) as redis, \
            cluster(redis.url, tmp, n, shop_config=REPO / "config" / "shop.yml") as (gws, bots):
        log(f"  stack up in {time.perf_counter() - started:.0f} s; warming up")
        for gw, bot in zip(gws, bots, strict=True):
            asyncio.run(warm_up(gw.url, bot.url, pool[1::97][:4]))
        log(f"  Rasa directly: {args.conversations} concurrent senders x {args.questions} questions")
        direct = Run(f"Rasa directly (REST webhook, {args.conversations} concurrent senders)", total)
        asyncio.run(rasa_direct([bot.url for bot in bots], plans[0], direct))
        log(f"  gateway: {args.conversations} WebSocket conversations x {args.questions} questions")
        web = Run(f"gateway (WebSocket /ws/chat, {args.conversations} concurrent conversations)", total)
        convs = asyncio.run(web_load([gw.url.replace("http", "ws", 1) + "/ws/chat" for gw in gws], plan, web))
        log("  reading the transcripts back")
        lost, duplicated, unreadable = check_transcripts(gws[0].url, convs)
    log(f"bench.web: done in {time.perf_counter() - started:.0f} s")

    print(f"## Web channel under load ({args.conversations} concurrent WebSocket conversations, "
          f"{n} gateway(s) + {n} Rasa)\n")
    print(f"{args.conversations} conversations at once, each asking {args.questions} FAQ questions of "
          f"kb_content/eval.csv ({len({q for qs in plan for q in qs})} distinct) one at a time: the next "
          "question is sent when the first bot message of the reply has arrived. Latency: send -> first "
          "bot message. Baseline in the same run: as many concurrent senders asking Rasa as many other "
          "questions of the same file on its REST webhook (the bot turn, Rasa -> /webhook -> "
          "retriever, is in both paths). Redis, gateway, Rasa and the load generator share the machine's "
          f"{_cores()} cores; Rasa directly ran first, both after a warm-up.\n")
    print("| path | messages | messages/s | p50 ms | p95 ms | errors |\n|---|---|---|---|---|---|")
    print(direct.row())
    print(web.row())
    if direct.latencies_ms and web.latencies_ms and direct.wall_s and web.wall_s:
        g50, r50 = np.median(web.latencies_ms), np.median(direct.latencies_ms)
        print(f"\nGateway overhead at p50: {g50 - r50:+.1f} ms ({g50 / r50:.2f}x Rasa directly). With every "
              "conversation waiting for its reply, latency is mostly queueing behind the slowest stage "
              f"(Little's law: {args.conversations} in flight / {direct.rate():.1f} messages/s = "
              f"{args.conversations / direct.rate() * 1000:.0f} ms directly, / {web.rate():.1f} = "
              f"{args.conversations / web.rate() * 1000:.0f} ms through the gateway).")
    checked = sum(1 for c in convs if c.cid) - unreadable
    print(f"\nTranscripts read back (GET /api/chat/conversations/{{cid}}/messages, {checked} conversations, "
          f"{sum(len(c.sent) for c in convs)} accepted shopper messages): lost/duplicated: "
          f"{lost}/{duplicated}" + (f"; {unreadable} unreadable" if unreadable else "") + ".", flush=True)
    return 0 if lost == duplicated == unreadable == 0 else 1


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


if __name__ == "__main__":
    sys.exit(main())
