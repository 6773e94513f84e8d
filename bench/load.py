"""`make bench-load` (not in CI): the scale-out layout under a Black-Friday-like load.

2 gateway processes + 2 Rasa servers + 1 Redis on this machine; 300 simulated shoppers on
WebSockets for 3 minutes, half on each gateway, each in its own conversation: mostly FAQ
questions from kb_content/eval.csv, some asking for a human (no agent is online, so the bot
offers a message), some leaving a ticket through the widget's offline form, with a few
seconds of "reading time" between messages. Reported: messages/s, bot reply latency
(send -> first bot message) p50/p95/p99, errors; then every transcript is read back to check
that each acknowledged message is stored exactly once and in the order it was sent.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from websockets.asyncio.client import connect

from bench.web import BOT_DOWN, TIMEOUT_S, _cores, faq_questions, first_reply, log, pct
from ops.redis_server import RedisServer
from ops.train import train
from tests.stack import REPO, cluster

HANDOFF = {"fr": "je voudrais parler à un conseiller", "en": "I want to talk to a human"}


@dataclass
class Shopper:
    gateway: str
    cid: str = ""
    acked: list[str] = field(default_factory=list)   # message ids acknowledged, in send order
    tickets: int = 0


@dataclass
class Totals:
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    sent: int = 0
    handoffs: int = 0


async def shopper_loop(s: Shopper, questions: list[tuple[str, str]], deadline: float, totals: Totals,
                       rng: random.Random, think: tuple[float, float] = (20.0, 50.0),
                       ramp: float = 50.0) -> None:
    ws_url = s.gateway.replace("http", "ws", 1) + "/ws/chat"
    n = 0
    try:
        async with connect(ws_url, open_timeout=TIMEOUT_S, max_size=2**22) as ws, \
                httpx.AsyncClient(base_url=s.gateway, timeout=TIMEOUT_S) as http:
            s.cid = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT_S))["conversation_id"]
            await asyncio.sleep(rng.uniform(0, ramp))              # first messages spread over `ramp` s
            while time.monotonic() < deadline:
                n += 1
                roll = rng.random()
                if roll < 0.05:                                    # the widget's offline form
                    form = {"email": f"load{n}@example.com", "message": "Rappelez-moi svp", "lang": "fr"}
                    res = await http.post(f"/api/chat/conversations/{s.cid}/tickets", json=form)
                    if res.status_code == 201:
                        s.tickets += 1
                    else:
                        totals.errors[f"ticket {res.status_code}"] += 1
                else:
                    text, lang = (HANDOFF["fr"], "fr") if roll < 0.12 else rng.choice(questions)
                    totals.handoffs += roll < 0.12
                    mid = f"m{n}"
                    t0 = time.perf_counter()
                    frame = {"type": "message", "text": text, "message_id": mid, "lang": lang}
                    await ws.send(json.dumps(frame, ensure_ascii=False))
                    totals.sent += 1
                    try:
                        at, error = await asyncio.wait_for(first_reply(ws, s.cid, mid), TIMEOUT_S)
                    except TimeoutError:
                        at, error = time.perf_counter(), "timeout"
                    if error.startswith("error"):
                        totals.errors[error] += 1
                    else:
                        s.acked.append(mid)
                        if error:
                            totals.errors[error] += 1
                        else:
                            totals.latencies_ms.append((at - t0) * 1000)
                await asyncio.sleep(rng.uniform(*think))           # reading the answer, typing
    except Exception as exc:
        totals.errors[type(exc).__name__] += 1


def check(shoppers: list[Shopper]) -> tuple[int, int, int]:
    """(lost, duplicated, out of order): every acknowledged message exactly once, in send order."""
    lost = duplicated = disordered = 0
    for s in shoppers:
        if not s.cid:
            continue
        with httpx.Client(base_url=s.gateway, timeout=30) as http:
            messages = http.get(f"/api/chat/conversations/{s.cid}/messages").json()["messages"]
        stored = [m["message_id"].rsplit(":", 1)[1] for m in messages if m["role"] == "shopper"]
        counts = Counter(stored)
        lost += sum(1 for mid in s.acked if counts[mid] == 0)
        duplicated += sum(c - 1 for c in counts.values() if c > 1)
        order = [mid for mid in stored if mid in set(s.acked)]
        disordered += order != s.acked
    return lost, duplicated, disordered


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shoppers", type=int, default=300)
    p.add_argument("--duration", type=float, default=180.0, help="seconds of load")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--think", default="20,50", help="seconds between a shopper's messages: min,max "
                   "(default 20,50: reading and typing; 3,8 saturates 2 cores)")
    p.add_argument("--ramp", type=float, help="seconds over which the shoppers' first messages arrive "
                   "(default: the longest think time, a steady busy hour; 5: everyone at once)")
    args = p.parse_args()
    with contextlib.redirect_stdout(sys.stderr):
        train()
    questions = faq_questions(REPO / "kb_content" / "eval.csv")
    tmp = Path(tempfile.mkdtemp(prefix="bench-load-"))
    log(f"bench.load: 2 gateways + 2 Rasa + Redis (logs in {tmp}); Rasa takes ~1 min each")
    env = {"CHAT_RATE_LIMIT": "60/60", "TICKET_RATE_LIMIT": "100/60"}   # a load test, not a limits test
    with ExitStack() as stack:
        redis = stack.enter_context(RedisServer(port=0, data_dir=tmp / "redis", use_env=False,
                                                appendfsync="always"))
        gateways, _ = stack.enter_context(cluster(redis.url, tmp, 2, shop_config=REPO / "config" / "shop.yml",
                                                  extra_env=env))
        log(f"  load: {args.shoppers} shoppers for {args.duration:.0f} s")
        rng = random.Random(args.seed)
        low, high = (float(x) for x in args.think.split(","))
        think = (low, high)
        ramp = high if args.ramp is None else args.ramp
        shoppers = [Shopper(gateways[i % 2].url) for i in range(args.shoppers)]
        totals = Totals()

        async def run() -> float:
            deadline = time.monotonic() + args.duration
            t0 = time.perf_counter()
            await asyncio.gather(*(shopper_loop(s, questions, deadline, totals, random.Random(rng.random()),
                                                think, ramp) for s in shoppers))
            return time.perf_counter() - t0

        wall = asyncio.run(run())
        log("  reading every transcript back")
        lost, duplicated, disordered = check(shoppers)
    lat = totals.latencies_ms
    answered = len(lat)
    errors = sum(totals.errors.values())
    print(f"## Scale-out under load: 2 gateways, 2 Rasa servers, {args.shoppers} shoppers, "
          f"{args.duration:.0f} s\n")
    print(f"{_cores()} cores shared by Redis (AOF, fsync always), both gateways, both Rasa servers and the "
          "load generator. Each shopper: a WebSocket to one gateway (half each), FAQ questions from "
          f"kb_content/eval.csv (88 %), asking for a human (7 %), the offline ticket form (5 %), "
          f"{low:g}-{high:g} s between messages, first messages spread over {ramp:g} s.\n")
    print("| messages | tickets | answered | messages/s | p50 ms | p95 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {totals.sent} | {sum(s.tickets for s in shoppers)} | {answered} | {totals.sent / wall:.1f} | "
          f"{pct(lat, 50):.0f} | {pct(lat, 95):.0f} | {pct(lat, 99):.0f} | {errors} |")
    if totals.errors:
        print(f"\nErrors by kind: {dict(totals.errors)} ('bot down': {sorted(BOT_DOWN)[0][:40]}...)")
    print(f"\nTranscripts read back ({sum(len(s.acked) for s in shoppers)} acknowledged messages in "
          f"{sum(1 for s in shoppers if s.cid)} conversations): lost {lost}, duplicated {duplicated}, "
          f"conversations out of order {disordered}.")
    gap = (low + high) / 2 + 0.5
    print(f"\nMean {np.mean(lat) if lat else 0:.0f} ms. {args.shoppers} shoppers writing every ~{gap:.0f} s "
          f"offer ~{args.shoppers / gap:.0f} messages/s; beyond what the two Rasa servers turn around on "
          "these cores, latency is queueing.", flush=True)
    return 0 if lost == duplicated == disordered == errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
