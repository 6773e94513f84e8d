"""Speed and memory of the engine on one KB (`python -m retrieval bench`).

Figures, not assertions: the machines are shared and noisy, so `make bench`
prints them and docs/benchmarks.md records them; no test times anything.
"""

from __future__ import annotations

import random
import resource
import tempfile
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .kb import KnowledgeBase
from .text import noisy


def _queries(kb: KnowledgeBase, n: int) -> list[str]:
    """Shopper-like queries: noisy copies of the KB's own questions."""
    rng = random.Random(3)
    questions = [q for e in kb.entries for q in e.questions]
    picked = [rng.choice(questions) for _ in range(n)]
    return [noisy(q, random.Random(zlib.crc32(q.encode()) + i)) for i, q in enumerate(picked)]


def _qps(engine, queries: list[str], threads: int) -> float:
    t0 = time.perf_counter()
    if threads == 1:
        for q in queries:
            engine.search(q)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(engine.search, queries))
    return len(queries) / (time.perf_counter() - t0)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_kb(kb: KnowledgeBase, n_queries: int = 300, model: str | None = None) -> dict:
    """Build from scratch, then time single warm queries and 1- and 2-thread throughput."""
    from .config import load_config
    from .embedders import make_embedder
    from .store import build_engine

    t0 = time.perf_counter()
    embedder = make_embedder(load_config().embedders, model)
    model_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    engine = build_engine(kb, embedder, cache_root=Path(tempfile.mkdtemp(prefix="bench-index-")),
                          use_config_thresholds=False)
    build_s = time.perf_counter() - t0
    queries = _queries(kb, n_queries)
    for q in queries[:10]:
        engine.search(q)  # warm-up
    lat = []
    for q in queries:
        t = time.perf_counter()
        engine.search(q)
        lat.append((time.perf_counter() - t) * 1000)
    return {
        "entries": len(kb.entries),
        "questions": sum(len(e.questions) for e in kb.entries),
        "model_load_s": round(model_s, 2),
        "index_build_s": round(build_s, 2),
        "p50_ms": round(float(np.percentile(lat, 50)), 2),
        "p95_ms": round(float(np.percentile(lat, 95)), 2),
        "qps_1_thread": round(_qps(engine, queries, 1), 1),
        "qps_2_threads": round(_qps(engine, queries, 2), 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
