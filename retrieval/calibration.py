"""Self-calibration: the KB teaches the engine how to score and when to answer.

Each question of the KB is asked back to the index with that question left out
(leave-one-question-out: the right entry is still there, reachable only
through its *other* phrasings) and, separately, with its whole entry left out
(leave-one-entry-out: a realistic near-miss the bot must not answer). Noisy
copies (no accents, typos, dropped words) mimic how shoppers type. These
samples train the fusion and pick the band thresholds for the targets in
config/retrieval.yml, so nothing is tuned to one shop's content.
"""

from __future__ import annotations

import os
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from tqdm import tqdm

from .embedder import Embedder
from .index import NEG, HybridIndex, Signals
from .scorer import Scorer, candidates, features
from .text import fold, shopper_copy, tokens


@dataclass(frozen=True)
class Thresholds:
    answer: float
    suggest: float
    source: str = "self"  # "self" (derived from the KB) or "eval" (python -m retrieval calibrate)

    def band(self, score: float) -> str:
        if score >= self.answer:
            return "answer"
        if score >= self.suggest:
            return "suggest"
        return "none"


@dataclass(frozen=True)
class Targets:
    """Policy: how often the bot may be wrong, as shares of the calibration questions."""

    max_wrong_answer_rate: float = 0.02
    max_oos_answer_rate: float = 0.05
    max_oos_suggest_rate: float = 0.5
    max_calibration_questions: int = 1500


@dataclass
class Sample:
    text: str
    lang: str
    target: int              # entry index the question belongs to
    exclude: np.ndarray      # unit indexes left out
    fold: int                # classifier fold that never saw this question


def self_samples(index: HybridIndex, targets: Targets, seed: int = 13) -> list[Sample]:
    """Held-out questions (clean + noisy) of every entry that has another phrasing left."""
    rng = random.Random(seed)
    units = [u for u in range(len(index.unit_text))
             if index.units_per_entry[index.unit_entry[u]] >= 2]
    if len(units) > targets.max_calibration_questions:
        units = rng.sample(units, targets.max_calibration_questions)
    samples: list[Sample] = []
    for u in units:
        e = int(index.unit_entry[u])
        text = index.unit_text[u]
        # leave out the unit and any identical phrasing (e.g. a title equal to a question)
        same = [v for v in range(index.starts[e], index.starts[e] + index.units_per_entry[e])
                if fold(index.unit_text[v]) == fold(text)]
        excl = np.asarray(same, dtype=np.int64)
        if len(same) >= index.units_per_entry[e]:
            continue
        lang = str(index.entry_lang[e])
        k = int(index.unit_fold[u])
        # the classifier of fold k must not have seen the identical phrasings either
        if any(index.unit_fold[v] != k for v in same):
            continue
        samples.append(Sample(text, lang, e, excl, k))
        # seeded by the text, so a rebuild after a small edit re-encodes almost nothing
        samples.append(Sample(shopper_copy(text), lang, e, excl, k))
    return samples


GENERIC_OOS = Path(__file__).with_name("data") / "generic_out_of_scope.yml"


def generic_out_of_scope(kb_langs: list[str]) -> list[tuple[str, str]]:
    """Domain-free questions no FAQ answers, each routed to a language the KB has."""
    data = yaml.safe_load(GENERIC_OOS.read_text(encoding="utf-8")) or {}
    return [(q, lang if lang in kb_langs else kb_langs[0])
            for lang, questions in sorted(data.items()) for q in questions]


def drop_entry(sig: Signals, e: int) -> Signals:
    """The same signals as if entry `e` were not in the KB (a near-miss question)."""
    for arr in sig.arrays():
        arr[e] = NEG
    return sig


@dataclass
class SelfCalibration:
    scorer: Scorer
    thresholds: Thresholds
    stats: dict


@dataclass
class _Record:
    """What calibration keeps of one sample: candidates and their features (hybrid) or
    the ranked single-signal scores, never the full per-entry arrays (memory)."""

    cand: np.ndarray
    values: np.ndarray      # features (hybrid) or scores (single-signal modes)
    target: int             # -1 for out-of-scope samples
    lang: str


def _record(sig: Signals, target: int, mode: str, lang: str) -> _Record:
    if mode == "hybrid":
        cand = candidates(sig)
        return _Record(cand, features(sig, cand), target, lang)
    order, scores = Scorer(mode).rank(sig, lang)
    return _Record(order, scores, target, lang)


MIN_QUESTIONS_PER_FUSION = 100  # fewer held-out questions in a language: it shares the fusion


def _fit_fusion(train: list[_Record]) -> Scorer:
    """One fusion per language (signals such as word vectors exist in some languages only),
    plus a shared one for languages with too few questions to fit their own."""

    def fit(records: list[_Record]):
        X = np.concatenate([r.values for r in records])
        y = np.concatenate([(r.cand == r.target).astype(int) for r in records])
        w = np.concatenate([np.full(len(r.cand), 1.0 if r.target >= 0 else 0.5) for r in records])
        return Scorer.fit_model(X, y, w)

    groups = {"*": train}
    for lang in sorted({r.lang for r in train}):
        mine = [r for r in train if r.lang == lang]
        if sum(1 for r in mine if r.target >= 0) >= MIN_QUESTIONS_PER_FUSION:
            groups[lang] = mine
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # numpy frees the GIL
        jobs = {name: pool.submit(fit, records) for name, records in groups.items()}
        return Scorer("hybrid", {name: job.result() for name, job in jobs.items()})


def fit_self(index: HybridIndex, embedder: Embedder, targets: Targets, mode: str = "hybrid",
             progress: bool = False) -> SelfCalibration:
    """Train the fusion on held-out KB questions and derive thresholds for `targets`."""
    samples = self_samples(index, targets)
    if not samples:
        raise ValueError("the KB needs at least one entry with two questions to calibrate itself")
    vecs = embedder.encode([s.text for s in samples], progress=progress)
    in_recs: list[_Record] = []
    oos_recs: list[_Record] = []
    known_recs: list[_Record] = []
    chars = index.vectorizer.transform([s.text for s in samples]).tocsr()
    for i, (s, v) in enumerate(tqdm(list(zip(samples, vecs, strict=True)), desc="self-calibration",
                                    disable=not progress, unit="q")):
        sig = index.signals(s.text, v, s.lang, exclude_units=s.exclude, fold=s.fold, qchar=chars[i])
        in_recs.append(_record(sig, s.target, mode, s.lang))
        oos = drop_entry(sig, s.target)
        oos.unknown = index.unknown(tokens(s.text, s.lang), s.lang, s.exclude, exclude_entry=s.target)
        oos_recs.append(_record(oos, -1, mode, s.lang))
        if mode == "hybrid" and s.text != index.unit_text[s.exclude[0]]:
            # a shopper retyping a question the KB has: teaches the fusion what a known
            # phrasing looks like (never seen in leave-one-out); training only
            known_recs.append(_record(index.signals(s.text, v, s.lang, qchar=chars[i]), s.target,
                                      mode, s.lang))
    generic = generic_out_of_scope(index.langs)
    generic_vecs = embedder.encode([t for t, _ in generic]) if generic else []
    for (text, lang), v in zip(generic, generic_vecs, strict=True):
        oos_recs.append(_record(index.signals(text, v, lang), -1, mode, lang))
    if mode == "hybrid":
        scorer = _fit_fusion(in_recs + known_recs + oos_recs)

        def top(r: _Record) -> tuple[float, int]:
            if not len(r.cand):
                return 0.0, -1
            p = scorer.model_for(r.lang).predict_proba(r.values)[:, 1]
            return float(p.max()), int(r.cand[int(np.argmax(p))])
    else:
        scorer = Scorer(mode)

        def top(r: _Record) -> tuple[float, int]:
            return (float(r.values[0]), int(r.cand[0])) if len(r.cand) else (0.0, -1)
    in_top, in_ok = [], []
    for r in in_recs:
        score, best = top(r)
        in_top.append(score)
        in_ok.append(best == r.target)
    oos_top = [top(r)[0] for r in oos_recs]
    thresholds = choose_thresholds(np.array(in_top), np.array(in_ok), np.array(oos_top), targets,
                                   source="self")
    stats = {"questions": len(samples) // 2, "loo_top1": float(np.mean(in_ok))}
    return SelfCalibration(scorer, thresholds, stats)


def choose_thresholds(in_top: np.ndarray, in_ok: np.ndarray, oos_top: np.ndarray,
                      targets: Targets, source: str) -> Thresholds:
    """Lowest thresholds that keep wrong answers and out-of-scope answers within targets."""
    in_top = np.asarray(in_top, dtype=float)
    in_ok = np.asarray(in_ok, dtype=bool)
    oos_top = np.asarray(oos_top, dtype=float)
    grid = np.unique(np.concatenate([in_top, oos_top]))
    n_in, n_oos = max(len(in_top), 1), len(oos_top)

    def wrong(t: float) -> float:
        return float(np.sum((in_top >= t) & ~in_ok)) / n_in

    def oos_ok(t: float, budget: float) -> bool:
        return n_oos == 0 or float(np.sum(oos_top >= t)) / n_oos <= budget

    never = float(np.max(grid, initial=1.0)) + 1e-6  # above every score: the band is unused
    answer = next((float(t) for t in grid if wrong(t) <= targets.max_wrong_answer_rate
                   and oos_ok(t, targets.max_oos_answer_rate)), never)
    suggest = next((float(t) for t in grid if oos_ok(t, targets.max_oos_suggest_rate)), never)
    return Thresholds(answer=answer, suggest=min(suggest, answer), source=source)
