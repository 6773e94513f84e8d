"""`make bench`: speed, memory and accuracy figures for docs/benchmarks.md."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.synthetic import write_kb, write_queries

ROOT = Path(__file__).resolve().parent.parent


def _last_json(argv: list[str]) -> dict:
    """Run a command in its own process (clean peak RSS) and parse its last stdout line."""
    print("  $", " ".join(argv[2:]), file=sys.stderr, flush=True)
    out = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"command failed ({out.returncode}): {' '.join(argv)}\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def speed(kb: Path, n: int) -> dict:
    return _last_json([sys.executable, "-m", "retrieval", "bench", "--kb", str(kb), "-n", str(n)])


def accuracy(kb: Path, queries: Path, mode: str) -> dict:
    return _last_json([sys.executable, "-m", "retrieval", "eval", "--kb", str(kb),
                       "--queries", str(queries), "--json", "--mode", mode])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--synthetic-entries", type=int, default=1000, help="x10 questions")
    p.add_argument("-n", type=int, default=300, help="queries timed per KB")
    p.add_argument("--skip-accuracy", action="store_true")
    p.add_argument("--skip-analytics", action="store_true",
                   help="skip bench.analytics (the dashboard on 1M events: ~40 min on 2 cores)")
    p.add_argument("--analytics-events", type=int, default=1_000_000, help="events for bench.analytics")
    args = p.parse_args()
    analytics = None if args.skip_analytics else ["--events", str(args.analytics_events)]

    print("## Speed and memory (one process per KB, index built from scratch)\n", flush=True)
    synth = write_kb(Path(tempfile.mkdtemp(prefix="synthetic-kb-")), args.synthetic_entries)
    rows = [("kb_content (shipped demo)", speed(ROOT / "kb_content", args.n)),
            (f"synthetic {args.synthetic_entries * 10} questions", speed(synth, args.n))]
    cols = ["entries", "questions", "index_build_s", "p50_ms", "p95_ms", "qps_1_thread",
            "qps_2_threads", "peak_rss_mb"]
    print("| KB | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for name, r in rows:
        print(f"| {name} | " + " | ".join(str(r[c]) for c in cols) + " |", flush=True)
    print("\n## The eval contract at scale: 150 entries, 5,000 queries, index build included\n")
    kb150 = write_kb(Path(tempfile.mkdtemp(prefix="kb150-")), 150)
    queries = write_queries(kb150, Path(tempfile.mkdtemp()) / "queries.csv", 5000)
    t0 = time.perf_counter()
    r = accuracy(kb150, queries, "hybrid")
    print(f"- `python -m retrieval eval` wall time: {time.perf_counter() - t0:.0f} s "
          f"(index build {r['index_build_s']} s, p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms per query)",
          flush=True)
    if args.skip_accuracy:
        return bot_figures(analytics)
    print("\n## Accuracy: hybrid vs dense-only vs BM25-only (same model, self-calibrated)\n")
    suites = [("kb_content/eval.csv", ROOT / "kb_content", ROOT / "kb_content/eval.csv"),
              ("telecom (bench/data)", ROOT / "bench/data/kb_telecom",
               ROOT / "bench/data/telecom_eval.csv")]
    cols = ["top1", "recall_at_3", "answered_correct", "answered_wrong", "oos_false_accept"]
    print("| eval set | mode | " + " | ".join(cols) + " | per language top1 |")
    print("|---" * (len(cols) + 3) + "|")
    for name, kb, queries in suites:
        for mode in ("hybrid", "dense", "bm25"):
            r = accuracy(kb, queries, mode)
            langs = ", ".join(f"{lg}: {m['top1']}" for lg, m in r["by_lang"].items())
            print(f"| {name} | {mode} | " + " | ".join(str(r[c]) for c in cols) + f" | {langs} |",
                  flush=True)
    return bot_figures(analytics)


def bot_figures(analytics: list[str] | None = None) -> int:
    """The Rasa bot's NLU and latency figures, whole scripted conversations, the web channel
    under load, the chat widget's
    size and start-up time, then (unless `analytics` is None; it holds bench.analytics'
    arguments) the dashboard's KPIs on 1M events: each in its own process (each starts its own
    stack). Each runs whatever the others' outcome."""
    runs = [["bench.bot"], ["bench.dialogues"], ["bench.orders"], ["bench.web"],
            ["bench.web", "--scale", "2"], ["bench.turn_cost"], ["bench.widget"], ["bench.mail"],
            ["bench.studio"]]
    if analytics is not None:
        runs.append(["bench.analytics", *analytics])
    codes = []
    for module, *argv in runs:
        print(flush=True)
        codes.append(subprocess.run([sys.executable, "-m", module, *argv], cwd=ROOT, check=False).returncode)
    return next((code for code in codes if code), 0)


if __name__ == "__main__":
    raise SystemExit(main())
