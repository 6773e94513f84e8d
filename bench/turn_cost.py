"""`python -m bench.turn_cost` (part of `make bench`): what one bot turn costs in CPU, and how a
turn's cost grows with the conversation's length.

A real Redis, gateway and Rasa (one of each), shoppers on the gateway's WebSocket asking FAQ
questions of kb_content/eval.csv. CPU is read from the kernel (user + system time of each
process and its children, psutil) before and after, so the figure is what a shop pays for
hosting, whatever the machine's other load does to latency:

- **CPU per turn**: `--conversations` conversations at once, `--questions` each; the CPU time
  of gateway, Rasa and Redis over the run divided by the turns answered. `--rounds` rounds of
  new conversations on other questions; the figure is the median round's (on a shared 2-core
  machine one round varies by +-8 %).
- **Turn 1 vs turn N**: one conversation of `--long` turns, one at a time; latency and CPU of
  the first turns against the last ones (Rasa loads, saves and ships the whole tracker each
  turn: a long conversation must not cost more per turn).

Prints a markdown section and, last, one JSON line with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil
from websockets.asyncio.client import connect

from bench.web import TIMEOUT_S, Conversation, Run, faq_questions, first_reply, log, web_load
from ops.redis_server import RedisServer
from ops.train import train
from tests.stack import REPO, stack

# turns compared at each end of the long conversation: the kernel counts CPU time in 10 ms ticks,
# so the CPU of a turn is read as the mean over these turns (latency: their median)
EDGE = 10
SILENCE_S = 15.0
# informational questions only: a complaint or an order question would rightly start a handoff or a
# form, and the long conversation must stay a conversation with the bot
LONG_QUESTIONS = [
    (q, "fr")
    for q in (
        "Quels sont les délais de livraison ?",
        "Comment retourner un article ?",
        "Quels moyens de paiement acceptez-vous ?",
        "Livrez-vous en Belgique ?",
        "Comment entretenir le lin lavé ?",
        "Les frais de retour sont-ils gratuits ?",
        "Puis-je payer en plusieurs fois ?",
        "Proposez-vous des cartes cadeaux ?",
        "Combien coûte la livraison ?",
        "Où se trouve votre atelier ?",
    )
]  # a turn of the long conversation without any bot reply by then is skipped


@dataclass
class Cpu:
    """CPU seconds (user + system) of the stack's processes, children included."""

    processes: dict[str, psutil.Process]

    def read(self) -> dict[str, float]:
        out = {}
        for name, proc in self.processes.items():
            total = 0.0
            for p in [proc, *proc.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    t = p.cpu_times()
                    total += t.user + t.system
            out[name] = total
        return out


async def tail(ws_url: str, cid: str) -> list[tuple[str, str]]:
    """The last messages of a conversation and its state, to say why the bot went silent."""
    import httpx

    base = ws_url.replace("ws", "http", 1).removesuffix("/ws/chat")
    async with httpx.AsyncClient(timeout=30) as http:
        data = (await http.get(f"{base}/api/chat/conversations/{cid}/messages")).json()
    return [("state", data.get("state", "")), *((m["role"], m["text"][:70]) for m in data["messages"][-5:])]


def spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: after[k] - before[k] for k in before}


async def long_conversation(
    ws_url: str, questions: list[tuple[str, str]], cpu: Cpu
) -> tuple[list[float], list[dict[str, float]]]:
    """One conversation, one turn at a time: latency ms and CPU ms per process, per turn."""
    latencies, costs, silent = [], [], []
    async with connect(ws_url, open_timeout=TIMEOUT_S, max_size=2**22) as ws:
        cid = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT_S))["conversation_id"]
        for n, (text, _lang) in enumerate(questions, 1):
            mid = f"long{n}"
            before = cpu.read()
            t0 = time.perf_counter()
            await ws.send(
                json.dumps({"type": "message", "text": text, "message_id": mid}, ensure_ascii=False)
            )
            try:
                at, error = await asyncio.wait_for(first_reply(ws, cid, mid), SILENCE_S)
            except TimeoutError:
                at, error = 0.0, "no bot reply"
            if error == "no bot reply":  # a dialogue gap, not a cost: counted and said
                if not silent:
                    log(f"  first silent turn {n}: the conversation ends with {await tail(ws_url, cid)}")
                silent.append(text)
                continue
            if error:
                raise RuntimeError(f"turn {n} ({text!r}): {error}")
            await asyncio.sleep(0.3)  # the rest of the reply and the bookkeeping settle
            latencies.append((at - t0) * 1000)
            costs.append({name: seconds * 1000 for name, seconds in spent(before, cpu.read()).items()})
    if silent:
        log(f"  {len(silent)} turns got no bot reply within {TIMEOUT_S:.0f} s: {silent}")
    return latencies, costs


def profilers(folder: Path, cpu: Cpu, fmt: str = "flamegraph") -> list[subprocess.Popen[bytes]]:
    """py-spy sampling gateway and Rasa (not Redis: not Python) without pausing them; their
    CPU is counted in the figures too, so a profiled run is for reading, not for comparing."""
    folder.mkdir(parents=True, exist_ok=True)
    return [
        subprocess.Popen(
            [
                str(Path(sys.executable).with_name("py-spy")),
                "record",
                "--nonblocking",
                "--rate",
                "50",
                "--pid",
                str(cpu.processes[name].pid),
                "--format",
                fmt,
                "--output",
                str(folder / f"{name}.{'svg' if fmt == 'flamegraph' else 'txt'}"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name in ("gateway", "rasa")
    ]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--conversations", type=int, default=20, help="concurrent conversations for CPU per turn")
    p.add_argument("--questions", type=int, default=5, help="questions per conversation")
    p.add_argument("--rounds", type=int, default=3, help="CPU-per-turn rounds (the median one is reported)")
    p.add_argument("--long", type=int, default=50, help="turns of the long conversation")
    p.add_argument("--profile", type=Path, help="write py-spy flame graphs of gateway and Rasa here")
    p.add_argument("--profile-format", choices=("flamegraph", "raw"), default="flamegraph",
                   help="raw: py-spy's collapsed stacks (.txt), to sum by function")
    args = p.parse_args()
    with contextlib.redirect_stdout(sys.stderr):
        train()
    pool = faq_questions(REPO / "kb_content" / "eval.csv")
    step = max(len(pool) // (args.conversations * args.questions), 1)

    def plan_of(round_: int) -> list[list[tuple[str, str]]]:
        """Each round its own questions (offset in the pool): none answered from a cache."""
        spread = pool[round_ % step::step]
        return [[spread[(i * args.questions + j) % len(spread)] for j in range(args.questions)]
                for i in range(args.conversations)]

    plan = plan_of(0)
    # the last EDGE turns ask the first EDGE questions again: both ends do the same work, and
    # only the conversation's length differs
    long_plan = [LONG_QUESTIONS[i % len(LONG_QUESTIONS)] for i in range(args.long - EDGE)]
    long_plan += LONG_QUESTIONS[:EDGE]
    tmp = Path(tempfile.mkdtemp(prefix="bench-turn-cost-"))
    log(f"bench.turn_cost: starting Redis, gateway and Rasa (logs in {tmp})")
    with (
        RedisServer(port=0, data_dir=tmp / "redis", use_env=False) as redis,
        stack(  # 50 turns of one conversation in a minute: over a shopper's message budget
            redis.url, tmp, shop_config=REPO / "config" / "shop.yml", extra_env={"CHAT_RATE_LIMIT": "1000/60"}
        ) as (gw, bot),
    ):
        cpu = Cpu(
            {
                "gateway": psutil.Process(gw.process.pid),
                "rasa": psutil.Process(bot.process.pid),
                "redis": psutil.Process(redis.pid),
            }
        )
        ws_url = gw.url.replace("http", "ws", 1) + "/ws/chat"
        log("  warming up")
        asyncio.run(web_load(ws_url, [plan[0][:2]], Run("warm-up", 2)))
        rounds: list[tuple[float, dict[str, float], Run, list[Conversation]]] = []
        spies = profilers(args.profile, cpu, args.profile_format) if args.profile else []
        for r in range(args.rounds):
            log(f"  CPU per turn, round {r + 1}/{args.rounds}: {args.conversations} conversations x "
                f"{args.questions} questions")
            run = Run("cpu", args.conversations * args.questions)
            before = cpu.read()
            convs: list[Conversation] = asyncio.run(web_load(ws_url, plan_of(r), run))
            used = spent(before, cpu.read())
            per_round = {k: v * 1000 / max(len(run.latencies_ms), 1) for k, v in used.items()}
            rounds.append((sum(per_round.values()), per_round, run, convs))
            log(f"    {sum(per_round.values()):.1f} ms per turn")
        for spy in spies:  # py-spy writes its flame graph on SIGINT
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
        total, per_turn, run, convs = sorted(rounds, key=lambda item: item[0])[len(rounds) // 2]
        turns = len(run.latencies_ms)
        log(f"  one conversation of {args.long} turns")
        # the engine keeps recent query vectors: the questions asked at both ends are asked once
        # beforehand, so neither end pays the encoders and only the conversation's length differs
        asyncio.run(web_load(ws_url, [LONG_QUESTIONS[:EDGE]], Run("warm-up", EDGE)))
        latencies, costs = asyncio.run(long_conversation(ws_url, long_plan, cpu))
    first_ms, last_ms = float(np.median(latencies[:EDGE])), float(np.median(latencies[-EDGE:]))
    totals = [sum(c.values()) for c in costs]
    first_cpu, last_cpu = float(np.mean(totals[:EDGE])), float(np.mean(totals[-EDGE:]))
    by_process = {name: (float(np.mean([c[name] for c in costs[:EDGE]])),
                         float(np.mean([c[name] for c in costs[-EDGE:]]))) for name in costs[0]}
    print("## CPU per bot turn\n")
    print(
        f"{args.conversations} WebSocket conversations at once x {args.questions} FAQ questions "
        f"({turns} turns answered, {len(run.errors)} errors, {sum(len(c.sent) for c in convs)} sent); "
        "user + system CPU time of each process (children included) over the run, per turn.\n"
    )
    print(f"Median of {len(rounds)} rounds (all rounds: "
          f"{', '.join(f'{t:.1f}' for t, *_ in rounds)} ms per turn).\n")
    print("| process | CPU ms per turn |\n|---|---|")
    for name, ms in per_turn.items():
        print(f"| {name} | {ms:.1f} |")
    print(f"| **all** | **{total:.1f}** |")
    capacity = 1000 / total if total else 0
    print(f"\nCapacity: {capacity:.1f} turns per core-second, {capacity * 3600:,.0f} turns per core-hour.\n")
    print(f"## A long conversation: turn 1 vs turn {args.long}\n")
    print(
        f"One conversation of {args.long} FAQ turns, one at a time; the first and last {EDGE} turns "
        "(latency: median, CPU: mean), which ask the same questions (asked once before in another "
        "conversation: their vectors are cached at both ends).\n"
    )
    print("| turns | latency ms | stack CPU ms |\n|---|---|---|")
    print(f"| 1-{EDGE} | {first_ms:.0f} | {first_cpu:.0f} |")
    print(f"| {args.long - EDGE + 1}-{args.long} | {last_ms:.0f} | {last_cpu:.0f} |")
    moves = ", ".join(f"{name} {a:.0f} -> {b:.0f} ms" for name, (a, b) in by_process.items())
    print(f"\nLast / first: latency {last_ms / first_ms:.2f}x, CPU {last_cpu / first_cpu:.2f}x ({moves}).\n")
    print(
        json.dumps(
            {
                "cpu_ms_per_turn": round(total, 1),
                "cpu_ms_per_turn_rounds": [round(t, 1) for t, *_ in rounds],
                **{f"{k}_ms": round(v, 1) for k, v in per_turn.items()},
                "turns": turns,
                "long_latency_ratio": round(last_ms / first_ms, 2),
                "long_cpu_ratio": round(last_cpu / first_cpu, 2),
            }
        )
    )
    return 0 if turns and not any(r.errors for _, _, r, _ in rounds) else 1


if __name__ == "__main__":
    sys.exit(main())
