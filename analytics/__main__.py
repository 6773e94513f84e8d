"""`python -m analytics suggest --out DIR`: draft KB entries for what shoppers ask and the FAQ
does not answer (band none, unclicked suggestions and answers voted down, clustered).
`python -m analytics simulate --days 30 --seed 1`: a realistic synthetic month in Redis."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import date, timedelta
from pathlib import Path

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from analytics.log import EventLog
from kit.redis import DEFAULT_REDIS_URL


async def unanswered_questions(redis_url: str, days: int) -> list[str]:
    """What the FAQ missed over the last `days` days (band none, unclicked suggestions, answers
    voted down), oldest first."""
    from . import report

    client = aioredis.Redis.from_url(redis_url)
    try:
        end = date.today()
        rows = await report.unanswered(client, end - timedelta(days=days - 1), end)
    finally:
        await client.aclose()
    return [str(r["q"]) for r in rows]


def suggest(questions: list[str], out: Path, kb: Path, top: int) -> list[Path]:
    from retrieval.embedder import Embedder
    from retrieval.text import LanguageDetector

    from .unanswered import cluster_questions, describe, kb_index, write_drafts

    embedder = Embedder()
    detector = LanguageDetector(["fr", "en"])
    print(f"clustering {len(questions)} unanswered questions...", file=sys.stderr, flush=True)
    topics = cluster_questions(questions, embedder.encode)
    describe(topics, kb_index(kb, embedder.encode), embedder.encode, lambda t: detector.detect(t)[0] or "")
    for topic in topics[:top]:
        print(f"{topic.count:4d}  [{topic.lang}] {topic.label}  (reason {topic.reason})")
    return write_drafts(topics, out, top=top)


async def simulate(redis_url: str, days: int, seed: int, per_day: int, end: date, kb: Path,
                   shop_config: Path) -> int:
    from retrieval.kb import load_taxonomy
    from shop.hours import from_config

    from .simulate import load, month

    taxonomy, _ = load_taxonomy(kb)
    reasons = sorted(taxonomy) if taxonomy else ["delivery/tracking", "returns/process", "payment/declined"]
    hours = from_config(shop_config)
    conversations = month(seed, days, end, per_day, reasons, tz=str(hours.tz))
    print(f"simulating {len(conversations)} conversations over {days} days ending {end}...", flush=True)
    client = aioredis.Redis.from_url(redis_url)
    try:
        return await load(EventLog(client, hours=hours), conversations)
    finally:
        await client.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analytics", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("suggest", help="draft KB files for the top unanswered topics")
    s.add_argument("--out", required=True, type=Path, help="folder for the drafts (<lang>/<id>.md)")
    s.add_argument("--days", type=int, default=30, help="look back this many days (default 30)")
    s.add_argument("--top", type=int, default=5, help="how many topics (default 5)")
    s.add_argument("--kb", type=Path, default=Path(os.environ.get("KB_DIR", "kb_content")),
                   help="the KB, to give each draft a contact reason")
    s.add_argument("--from-file", type=Path, help="read questions from a text file (one per line) "
                   "instead of Redis")
    m = sub.add_parser("simulate", help="fill Redis with a synthetic month of traffic (demo, tests)")
    m.add_argument("--days", type=int, default=30)
    m.add_argument("--seed", type=int, default=1)
    m.add_argument("--per-day", type=int, default=120, help="average conversations per day (default 120)")
    m.add_argument("--end", type=date.fromisoformat, default=date.today(), help="last day (default today)")
    m.add_argument("--kb", type=Path, default=Path(os.environ.get("KB_DIR", "kb_content")))
    m.add_argument("--shop-config", type=Path, default=Path(os.environ.get("SHOP_CONFIG", "config/shop.yml")))
    args = parser.parse_args(argv)
    url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    if args.command == "simulate":
        try:
            n = asyncio.run(simulate(url, args.days, args.seed, args.per_day, args.end, args.kb,
                                     args.shop_config))
        except (OSError, RedisError) as exc:
            print(f"error: cannot reach Redis at REDIS_URL ({exc})", file=sys.stderr)
            return 2
        print(f"{n} events appended")
        return 0
    if args.from_file:
        questions = [q for q in args.from_file.read_text(encoding="utf-8").splitlines() if q.strip()]
    else:
        try:
            questions = asyncio.run(unanswered_questions(url, args.days))
        except (OSError, RedisError) as exc:
            print(f"error: cannot reach Redis at REDIS_URL ({exc})", file=sys.stderr)
            return 2
    if not questions:
        print("no unanswered questions in that period: nothing to suggest")
        return 0
    for path in suggest(questions, args.out, args.kb, args.top):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
