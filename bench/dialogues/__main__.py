"""`python -m bench.dialogues` (in `make bench`): the scripted conversations of
bench/dialogues/conversations/ through a real Redis, gateway and Rasa; prints per-conversation
and per-turn success, the false-handoff rate and the conversations trapped in a form."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from ops.redis_server import RedisServer
from ops.train import train
from retrieval.kb import load_kb
from tests.stack import REPO

from .report import figures, render
from .runner import run_all, stages
from .script import ScriptError, load


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.dialogues", description=__doc__)
    p.add_argument("files", nargs="*", type=Path, help="conversation files (default: all)")
    p.add_argument("--fast", action="store_true", help="only the conversations marked fast")
    p.add_argument("--only", action="append", default=[], help="a conversation id (repeatable)")
    p.add_argument("--verbose", "-v", action="store_true", help="every turn of the wrong conversations")
    p.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    args = p.parse_args(argv)
    try:
        dialogues = load(args.files or None, {e.id for e in load_kb(REPO / "kb_content").entries})
    except ScriptError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.fast:
        dialogues = [d for d in dialogues if d.fast]
    if args.only:
        dialogues = [d for d in dialogues if d.id in args.only]
    if not dialogues:
        print("error: no conversation selected", file=sys.stderr)
        return 2
    print(f"{len(dialogues)} conversations; training the bot if its data changed...",
          file=sys.stderr, flush=True)
    train()
    tmp = Path(tempfile.mkdtemp(prefix="bench-dialogues-"))
    with RedisServer(port=0, data_dir=tmp / "redis", use_env=False) as redis_server:
        print("starting Redis, gateway and Rasa (about a minute)...", file=sys.stderr, flush=True)
        with stages(redis_server.url, tmp, {d.situation for d in dialogues}) as by_situation:
            results = run_all(by_situation, dialogues, progress=True)
    print(render(results, verbose=args.verbose))
    if args.json:
        print(json.dumps(figures(results)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
