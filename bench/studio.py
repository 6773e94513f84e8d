"""`python -m bench.studio`: the FAQ studio's impact check on a 150-entry KB with a 5,000-question
eval (issue 22's target: under 10 s once the live answers are known).

One process, the real FAQ engine on bench.synthetic's KB. Timed, for one entry edited three
times: the first check (the live index answers all 5,000 questions once, then the draft those
near the edit), a second check of another draft (live answers remembered), and a check right
after publishing (the draft's answers handed on to the new live index); then, as when an editor
opens the studio, the live answers computed in the background first (`Studio.warm`) and the
first check after it. Each figure includes the draft index built in memory (only the edited
texts encoded, the live embedding classifier's rows kept where they provably stay the same).
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.synthetic import write_kb, write_queries  # noqa: E402
from editor.history import FolderHistory  # noqa: E402
from editor.studio import Studio  # noqa: E402
from retrieval.service import RetrievalService  # noqa: E402


def _timed(studio: Studio, draft, entry_id: str) -> tuple[float, dict]:  # noqa: ANN001
    start = time.perf_counter()
    issues, kb, _ = studio.check(draft, entry_id)
    assert kb is not None, issues
    impact = studio.impact(kb, next(e for e in kb.entries if e.id == draft.id))
    return time.perf_counter() - start, impact.to_dict()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--entries", type=int, default=150)
    p.add_argument("--queries", type=int, default=5000)
    args = p.parse_args(argv)
    logging.disable(logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="bench-studio-"))
    kb = write_kb(tmp / "kb", args.entries)
    write_queries(kb, kb / "eval.csv", args.queries)
    print(f"## FAQ studio: impact check, {args.entries} entries, {args.queries} eval questions\n", flush=True)
    start = time.perf_counter()
    service = RetrievalService(kb, cache_root=tmp / "index", watch=False).start()
    print(f"(index built in {time.perf_counter() - start:.0f} s, not counted)\n", flush=True)
    studio = Studio(service, FolderHistory(tmp / "versions"), eval_csv=kb / "eval.csv")
    entry_id = sorted(e.id for e in service.entries())[7]
    opened = studio.open(entry_id)
    first = replace(opened.draft, questions=[*opened.draft.questions, "can you help me with it on a sunday"])
    second = replace(first, answer=first.answer + " Ask us for a quote.")
    third = replace(second, title="A clearer title for this entry")
    rows = []
    seconds, impact = _timed(studio, first, entry_id)
    rows.append(("first check (live answers computed)", seconds, impact))
    seconds, impact = _timed(studio, second, entry_id)
    rows.append(("another draft (live answers known)", seconds, impact))
    studio.save(second, entry_id=entry_id, base_version=opened.version, author="bench", email="b@x.fr")
    service.reload()
    studio.carry_over(entry_id)
    seconds, impact = _timed(studio, third, entry_id)
    rows.append(("after publishing (answers handed on)", seconds, impact))
    # an editor opens the studio (the live answers are computed in the background), reads for a
    # minute, then checks a draft: the warm-up's time is not the editor's wait
    fresh = Studio(service, FolderHistory(tmp / "versions-2"), eval_csv=kb / "eval.csv")
    start = time.perf_counter()
    warming = fresh.warm()
    assert warming is not None
    warming.join()
    warm_s = time.perf_counter() - start
    reopened = fresh.open(entry_id)
    fourth = replace(reopened.draft, answer=reopened.draft.answer + " Call us.")
    seconds, impact = _timed(fresh, fourth, entry_id)
    rows.append(("first check once the studio has warmed up", seconds, impact))
    print("| check | seconds | questions | asked of the draft | answers changed | top1 before -> after |")
    print("|---|---|---|---|---|---|")
    for name, seconds, impact in rows:
        print(f"| {name} | {seconds:.1f} | {impact['asked']} | {impact['reasked']} | "
              f"{len(impact['changed'])} | {impact['before']['top1']} -> {impact['after']['top1']} |",
              flush=True)
    print(f"\n(the warm-up, in the background when the studio opens: {warm_s:.1f} s at a lower CPU priority)")
    service.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
