"""`python -m bench.bot` (part of `make bench`): the Rasa bot's figures.

Control-intent precision/recall/F1 on held-out examples (bench/data/intents_test.yml,
never used in training), how often FAQ questions (kb_content/eval.csv) are mistaken for
a control intent, and end-to-end reply latency through Rasa compared with the retriever
alone (gateway /api/search), in the same run, sequentially.
"""

from __future__ import annotations

import csv
import re
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import numpy as np
import yaml
from sklearn.metrics import classification_report

from ops.redis_server import RedisServer
from ops.train import train
from tests.stack import REPO, gateway, rasa

CONTROL = ("greet", "goodbye", "thanks", "affirm", "deny", "ask_human", "leave_message", "order_status",
           "complaint", "bot_challenge", "feedback_positive", "feedback_negative", "stop", "out_of_scope")
ANNOTATION = re.compile(r"\[([^\]]+)\]\([^)]+\)")


def held_out(path: Path) -> list[tuple[str, str]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    out = []
    for block in data["nlu"]:
        if "intent" in block:
            for line in block["examples"].splitlines():
                if line.strip().startswith("- "):
                    out.append((ANNOTATION.sub(r"\1", line.strip()[2:]), block["intent"]))
    return out


def faq_questions(path: Path) -> list[str]:
    with path.open(encoding="utf-8") as f:
        return [row["query"] for row in csv.DictReader(f) if row["expected_id"] and not row.get("context")]


def pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 1)


def main() -> int:
    model = train()
    tmp = Path(tempfile.mkdtemp(prefix="bench-bot-"))
    with RedisServer(port=0, data_dir=tmp / "redis", use_env=False) as redis, \
            gateway(redis.url, tmp, shop_config=REPO / "config" / "shop.yml") as gw, \
            rasa(redis.url, gw.url, gw.token, tmp) as bot:
        print(f"## Bot (Rasa 3.6, model {model.name})\n", flush=True)
        examples = held_out(REPO / "bench" / "data" / "intents_test.yml")
        predicted = [bot.parse(text)["intent"]["name"] for text, _ in examples]
        truth = [intent for _, intent in examples]
        report = classification_report(truth, predicted, labels=list(CONTROL), output_dict=True,
                                        zero_division=0)
        print(f"Control intents, held-out test file ({len(examples)} examples, FR+EN):\n")
        print("| intent | precision | recall | f1 | n |\n|---|---|---|---|---|")
        for name in CONTROL:
            r = report[name]
            print(f"| {name} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1-score']:.3f} | "
                  f"{int(r['support'])} |")
        macro = report["macro avg"]
        print(f"| **macro** | {macro['precision']:.3f} | {macro['recall']:.3f} | **{macro['f1-score']:.3f}** "
              f"| {len(examples)} |\n")
        questions = faq_questions(REPO / "kb_content" / "eval.csv")
        intents = [bot.parse(q)["intent"]["name"] for q in questions]
        wrong = Counter(i for i in intents if i in CONTROL)
        share = sum(wrong.values()) / len(questions)
        print(f"FAQ questions of kb_content/eval.csv taken for a control intent: {sum(wrong.values())}"
              f"/{len(questions)} = {share:.1%} (target <= 3%); {dict(wrong.most_common(5))}\n", flush=True)
        # each path asks its own questions: the retriever keeps recent query vectors, and the bot
        # would otherwise be timed on what the retriever alone had just encoded
        sample, bot_sample = questions[::6][:60], questions[3::6][:60]
        http = httpx.Client(base_url=gw.url, timeout=30)
        search_ms, bot_ms = [], []
        for q in questions[1::6][:3]:  # warm both paths (on questions neither path asks)
            http.get("/api/search", params={"q": q})
            bot.say(f"warm-{uuid.uuid4().hex}", q)
        for q, asked in zip(sample, bot_sample, strict=True):
            t0 = time.perf_counter()
            http.get("/api/search", params={"q": q}).raise_for_status()
            search_ms.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            bot.say(f"lat-{uuid.uuid4().hex}", asked)
            bot_ms.append((time.perf_counter() - t0) * 1000)
        print(f"Reply latency, {len(sample)} FAQ questions per path (not the same ones), sequential "
              "(target bot p95 < 80 ms):\n")
        print("| path | p50_ms | p95_ms |\n|---|---|---|")
        print(f"| retriever alone (GET /api/search) | {pct(search_ms, 50)} | {pct(search_ms, 95)} |")
        print(f"| bot end to end (Rasa REST -> NLU -> policy -> /webhook -> retriever) | {pct(bot_ms, 50)} "
              f"| {pct(bot_ms, 95)} |")
        print(f"\nbot / retriever p50 ratio: {np.median(bot_ms) / np.median(search_ms):.1f}x", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
