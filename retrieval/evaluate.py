"""Scoring an engine on labelled questions (the `eval` contract in README's "For FAQ editors").

Expected ids are only ever used to score: the engine never sees them.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .engine import SearchEngine


@dataclass(frozen=True)
class Query:
    text: str
    expected_id: str  # "" = out of scope
    lang: str
    context: str = ""  # the conversation's previous FAQ question (a follow-up); "" = none


def read_queries(path: str | Path) -> list[Query]:
    """Read `query,expected_id,lang[,context]`; errors name the file and line.

    `context` is optional (a missing column or an empty cell = a standalone question)."""
    path = Path(path)
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        missing = {"query", "expected_id"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}:1: header must be query,expected_id,lang "
                             f"(missing {', '.join(sorted(missing))})")
        out = []
        for row in reader:
            text = (row.get("query") or "").strip()
            if not text:
                raise ValueError(f"{path}:{reader.line_num}: empty query")
            out.append(Query(text, (row.get("expected_id") or "").strip(),
                             (row.get("lang") or "").strip(), " ".join((row.get("context") or "").split())))
    return out


@dataclass
class Outcome:
    query: Query
    ranked: list[str]
    top_score: float
    band: str
    ms: float
    context_used: bool = False


def run(engine: SearchEngine, queries: list[Query], progress: bool = False,
        use_context: bool = True) -> list[Outcome]:
    """Ask every query through the public search API, timing each one (warm).

    `use_context=False` asks follow-ups without their context (to measure what it adds)."""
    engine.search("warm-up")
    outcomes = []
    for q in tqdm(queries, desc="eval", unit="q", disable=not progress):
        t0 = time.perf_counter()
        res = engine.search(q.text, lang=q.lang or None, k=10,
                            context=(q.context or None) if use_context else None)
        ms = (time.perf_counter() - t0) * 1000
        outcomes.append(Outcome(q, [h.id for h in res.hits], res.hits[0].score if res.hits else 0.0,
                                res.band, ms, res.context_used))
    return outcomes


def metrics(outcomes: list[Outcome]) -> dict:
    """The contract's metrics over a list of outcomes."""
    ins = [o for o in outcomes if o.query.expected_id]
    oos = [o for o in outcomes if not o.query.expected_id]

    def share(n: float, d: int) -> float:
        return round(n / d, 4) if d else 0.0

    top1 = sum(1 for o in ins if o.ranked[:1] == [o.query.expected_id])
    r3 = sum(1 for o in ins if o.query.expected_id in o.ranked[:3])
    rr = sum(1 / (o.ranked.index(o.query.expected_id) + 1) for o in ins
             if o.query.expected_id in o.ranked)
    ans_ok = sum(1 for o in ins if o.band == "answer" and o.ranked[:1] == [o.query.expected_id])
    ans_bad = sum(1 for o in ins if o.band == "answer" and o.ranked[:1] != [o.query.expected_id])
    sugg_ok = sum(1 for o in ins if o.band == "suggest" and o.query.expected_id in o.ranked[:3])
    oos_acc = sum(1 for o in oos if o.band == "answer")
    oos_sugg = sum(1 for o in oos if o.band == "suggest")
    ms = np.array([o.ms for o in outcomes]) if outcomes else np.zeros(1)
    return {
        "n_in_scope": len(ins), "n_out_of_scope": len(oos),
        "top1": share(top1, len(ins)), "recall_at_3": share(r3, len(ins)),
        "mrr": share(rr, len(ins)),
        "answered_correct": share(ans_ok, len(ins)), "answered_wrong": share(ans_bad, len(ins)),
        "suggested_correct": share(sugg_ok, len(ins)),
        "oos_false_accept": share(oos_acc, len(oos)), "oos_suggested": share(oos_sugg, len(oos)),
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p95_ms": round(float(np.percentile(ms, 95)), 2),
    }


def by_lang(outcomes: list[Outcome]) -> dict[str, dict]:
    langs = sorted({o.query.lang for o in outcomes if o.query.lang})
    return {lg: metrics([o for o in outcomes if o.query.lang == lg]) for lg in langs}


def followups(outcomes: list[Outcome]) -> dict:
    """Figures over the rows with a context (follow-ups) and over the others; empty when the
    file has no context column or none is filled."""
    with_ctx = [o for o in outcomes if o.query.context]
    if not with_ctx:
        return {}
    fu = metrics(with_ctx)
    return {
        "followup_top1": fu["top1"],
        "followup": {**fu, "context_used": round(sum(o.context_used for o in with_ctx) / len(with_ctx), 4),
                     "by_lang": by_lang(with_ctx)},
        "standalone": metrics([o for o in outcomes if not o.query.context]),
    }
