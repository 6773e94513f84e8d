"""`python -m retrieval {check,ask,build,calibrate,eval,bench}`."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .kb import KBError, KnowledgeBase, load_kb


def _err(*args: object) -> None:
    print(*args, file=sys.stderr, flush=True)


def _load_or_exit(kb_dir: str) -> KnowledgeBase:
    try:
        kb = load_kb(kb_dir)
    except KBError as exc:
        for problem in exc.problems:
            _err(problem)
        _err(f"{len(exc.problems)} error(s) in {kb_dir}: fix them and run again.")
        raise SystemExit(1) from None
    return kb


def _engine(kb: KnowledgeBase, args: argparse.Namespace, cache: Path | None = None,
            mode: str = "hybrid", use_config_thresholds: bool = True):
    from .config import load_config
    from .embedders import make_embedder
    from .store import build_engine

    t0 = time.perf_counter()
    embedder = make_embedder(load_config().embedders, getattr(args, "model", None))
    _err(f"embedding models: {embedder.name}")
    _err(f"building/loading the index for {len(kb.entries)} entries...")
    engine = build_engine(kb, embedder, cache_root=cache, mode=mode, progress=sys.stderr.isatty(),
                          use_config_thresholds=use_config_thresholds)
    engine.info["index_build_s"] = round(time.perf_counter() - t0, 2)
    return engine


def cmd_check(args: argparse.Namespace) -> int:
    from .lint import near_duplicates

    kb = _load_or_exit(args.kb)
    warnings = near_duplicates(kb)
    for w in warnings:
        _err(w)
    counts = {lg: sum(1 for e in kb.entries if e.lang == lg) for lg in kb.langs}
    n_q = sum(len(e.questions) for e in kb.entries)
    print(f"OK: {len(kb.entries)} entries ({', '.join(f'{k}: {v}' for k, v in counts.items())}), "
          f"{n_q} questions, {len(warnings)} warning(s)"
          + ("" if kb.taxonomy is not None else ", no taxonomy.yml (reasons are free text)"))
    return 0


def _print_hits(res) -> None:
    print(f"query language: {res.query_lang}  answer language: {res.lang}  band: {res.band}"
          + ("  (fallback to another language)" if res.fallback else ""))
    for i, h in enumerate(res.hits, 1):
        print(f"{i}. [{h.band:7}] {h.score:.3f}  {h.id}  ({h.reason})  {h.title}")
    if res.best and res.band == "answer":
        print("\n" + res.best.answer)


def cmd_ask(args: argparse.Namespace) -> int:
    engine = _engine(_load_or_exit(args.kb), args)
    for q in args.question:
        res = engine.search(q, lang=args.lang)
        if args.json:
            print(json.dumps(res.to_dict(), ensure_ascii=False))
        else:
            _print_hits(res)
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    engine = _engine(_load_or_exit(args.kb), args)
    info = engine.info
    state = "built" if info["built"] else "reused (KB unchanged)"
    print(f"index {info['key']} {state}: {info['entries']} entries, {info['units']} questions, "
          f"model {info['model']}, thresholds answer>={info['thresholds']['answer']:.3f} "
          f"suggest>={info['thresholds']['suggest']:.3f} ({info['thresholds']['source']}), "
          f"{info['index_build_s']} s")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from . import evaluate

    queries = evaluate.read_queries(args.queries)
    kb = _load_or_exit(args.kb)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kb-index-") as cache:  # touches nothing else
        engine = _engine(kb, args, cache=Path(cache), mode=args.mode, use_config_thresholds=False)
    build_s = round(time.perf_counter() - t0, 2)
    known = {e.id for e in kb.entries}
    unknown = sorted({q.expected_id for q in queries if q.expected_id and q.expected_id not in known})
    if unknown:
        _err(f"warning: {len(unknown)} expected ids are not in the KB: {', '.join(unknown[:10])}")
    outcomes = evaluate.run(engine, queries, progress=sys.stderr.isatty(), use_context=not args.no_context)
    result = evaluate.metrics(outcomes)
    result.update({"model": engine.info["model"], "index_build_s": build_s, "mode": args.mode,
                   "embedders": [b.name for b in getattr(engine.embedder, "backends", [engine.embedder])],
                   "tuned": bool(engine.info.get("tuned")),
                   "thresholds": engine.info["thresholds"], "by_lang": evaluate.by_lang(outcomes)})
    result.update(evaluate.followups(outcomes))  # rows with a `context` (follow-ups), if any
    if args.errors:
        for o in outcomes:
            wrong = o.ranked[:1] != [o.query.expected_id] if o.query.expected_id else o.band == "answer"
            if wrong:
                _err(f"{o.band:7} {o.top_score:.3f} expected={o.query.expected_id or '-':28} "
                     f"got={(o.ranked or ['-'])[0]:28} {o.query.text}"
                     + (f"  (after: {o.query.context})" if o.query.context else ""))
    if not args.json:
        for k, v in result.items():
            if k not in ("by_lang", "followup", "standalone"):
                print(f"{k:18} {v}")
        for lg, m in result["by_lang"].items():
            print(f"[{lg}] top1={m['top1']} answered_wrong={m['answered_wrong']} "
                  f"oos_false_accept={m['oos_false_accept']}")
        for name in ("followup", "standalone"):
            if name in result:
                m = result[name]
                print(f"[{name}] n={m['n_in_scope']}+{m['n_out_of_scope']} top1={m['top1']} "
                      f"answered_correct={m['answered_correct']} answered_wrong={m['answered_wrong']} "
                      f"oos_false_accept={m['oos_false_accept']}"
                      + (f" context_used={m['context_used']}" if "context_used" in m else ""))
    print(json.dumps(result, ensure_ascii=False))
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from . import evaluate
    from .calibration import choose_thresholds
    from .config import load_config, save_thresholds

    config = load_config()
    queries = evaluate.read_queries(args.queries)
    engine = _engine(_load_or_exit(args.kb), args, use_config_thresholds=False)
    outcomes = evaluate.run(engine, queries, progress=sys.stderr.isatty())
    ins = [o for o in outcomes if o.query.expected_id]
    oos = [o for o in outcomes if not o.query.expected_id]
    t = choose_thresholds(
        np.array([o.top_score for o in ins]),
        np.array([o.ranked[:1] == [o.query.expected_id] for o in ins]),
        np.array([o.top_score for o in oos]), config.targets, source="eval")
    values = {"answer": round(t.answer, 4), "suggest": round(t.suggest, 4),
              "model_id": engine.info["model_id"], "kb_hash": engine.info["kb_hash"],
              "queries": str(args.queries), "n_in_scope": len(ins), "n_out_of_scope": len(oos)}
    print(f"self-calibrated: answer>={engine.thresholds.answer:.4f} "
          f"suggest>={engine.thresholds.suggest:.4f}")
    print(f"calibrated on {args.queries}: answer>={t.answer:.4f} suggest>={t.suggest:.4f}")
    if args.dry_run:
        return 0
    path = save_thresholds(config, values)
    print(f"written to {path}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from .benchmark import bench_kb

    kb = _load_or_exit(args.kb)
    print(json.dumps(bench_kb(kb, n_queries=args.n, model=args.model), ensure_ascii=False))
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    p = argparse.ArgumentParser(prog="python -m retrieval", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)

    def add(name: str, fn, help_: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_)
        sp.add_argument("--kb", default="kb_content", help="KB folder (default: kb_content)")
        sp.add_argument("--model", default=None, help="local embedding model folder")
        sp.set_defaults(fn=fn)
        return sp

    add("check", cmd_check, "validate a KB folder (non-zero exit on errors)")
    sp = add("ask", cmd_ask, "print the top 3 entries for a question")
    sp.add_argument("question", nargs="+")
    sp.add_argument("--lang", default=None, help="language hint (fr, en)")
    sp.add_argument("--json", action="store_true")
    add("build", cmd_build, "build the index (or reuse it when the KB is unchanged)")
    sp = add("eval", cmd_eval, "score the engine on a labelled CSV (query,expected_id,lang[,context])")
    sp.add_argument("--queries", required=True)
    sp.add_argument("--no-context", action="store_true",
                    help="ask follow-up rows without their context (to measure what it adds)")
    sp.add_argument("--json", action="store_true", help="only the JSON line on stdout")
    sp.add_argument("--mode", default="hybrid", choices=("hybrid", "dense", "bm25"))
    sp.add_argument("--errors", action="store_true", help="list misses on stderr")
    sp = add("calibrate", cmd_calibrate, "set band thresholds from a labelled CSV")
    sp.add_argument("--queries", required=True)
    sp.add_argument("--dry-run", action="store_true", help="print, do not write the config")
    sp = add("bench", cmd_bench, "latency, throughput and memory on a KB")
    sp.add_argument("-n", type=int, default=300, help="queries to time")
    args = p.parse_args(argv)
    return int(args.fn(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
