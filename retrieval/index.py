"""The hybrid index: dense (faiss), BM25 (bm25s + Snowball) and character n-grams.

An entry is reachable through its *units*: each question and its title (dense,
BM25, n-grams, best unit wins) and its answer (dense and BM25). `signals()`
returns the raw per-entry scores the scorer fuses; it can leave units or whole
entries out, which is how the index calibrates itself on its own questions.
"""

from __future__ import annotations

import json
import logging
import math
import os
import pickle
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any, NamedTuple

import bm25s
import faiss
import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from .embedder import Embedder
from .kb import Entry, KnowledgeBase
from .text import Respeller, fold, shopper_copy, tokens
from .wordvec import WordVectorIndex, load_table

logging.getLogger("bm25s").setLevel(logging.WARNING)  # it forces DEBUG on import

DENSE_TOPK = 256  # units fetched from faiss per query; the rest get the k-th score as a bound
NEG = -1.0
MAX_CHAR_FEATURES = 60_000  # bounds the n-gram classifier: classes x features weights
MAX_SVM_CLASSES = 300      # beyond, the classifiers are nearest-centroid (build time)
MARGIN_SLACK = 1e-3   # kept rows are float32: a sample must be clearly beyond the margin (_kept_rows)
CLF_FOLDS = 4     # cross-fitting folds: calibration sees classifiers that never saw the question


@dataclass
class Signals:
    """Raw per-entry scores for one query (arrays of length n_entries)."""

    dense: np.ndarray      # best question/title cosine
    centroid: np.ndarray   # cosine to the mean of the entry's questions
    answer: np.ndarray     # cosine to the answer
    char: np.ndarray       # best question/title character n-gram cosine
    bm25: np.ndarray       # best question/title BM25, as a share of the query's maximum
    bm25_answer: np.ndarray
    char_answer: np.ndarray  # character n-gram cosine to the answer
    clf: np.ndarray        # linear classifier margin over character n-grams
    clf_emb: np.ndarray    # linear classifier margin over embeddings (SetFit-style head)
    wv_mean: np.ndarray    # best unit cosine of IDF-weighted mean word vectors (0 without vectors)
    wv_soft: np.ndarray    # best unit soft word match: each query word's closest unit word
    oov: float             # share of query words absent from the questions
    n_tokens: int
    unknown: float         # share of query words the KB never uses, even misspelt
    # with several embedders, each one's own (dense, centroid, answer) cosines, in that order
    per_model: tuple[np.ndarray, ...] = ()

    def arrays(self) -> tuple[np.ndarray, ...]:
        return (self.dense, self.centroid, self.answer, self.char, self.bm25, self.bm25_answer,
                self.char_answer, self.clf, self.clf_emb, self.wv_mean, self.wv_soft, *self.per_model)

    def copy(self) -> Signals:
        return replace(self, **{name: getattr(self, name).copy() for name in ARRAY_FIELDS},
                       per_model=tuple(a.copy() for a in self.per_model))


ARRAY_FIELDS = ("dense", "centroid", "answer", "char", "bm25", "bm25_answer", "char_answer", "clf",
                "clf_emb", "wv_mean", "wv_soft")


class _Bm25Partition:
    """BM25 over the units of one language, with the IDF table for normalising."""

    def __init__(self, docs: list[list[str]]):
        self.n = len(docs)
        self.bm25 = bm25s.BM25()
        self.bm25.index([d if d else [""] for d in docs], show_progress=False)
        df: dict[str, int] = {}
        for d in docs:
            for t in set(d):
                df[t] = df.get(t, 0) + 1
        self.idf = {t: math.log(1 + (self.n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        self.max_idf = math.log(1 + (self.n + 0.5) / 0.5)
        self.k1 = self.bm25.k1

    def scores(self, query: list[str]) -> tuple[np.ndarray, float, float]:
        """Scores, the best score a unit could reach for this query, and the OOV share."""
        if not query:
            return np.zeros(self.n, dtype=np.float32), 1.0, 1.0
        raw = self.bm25.get_scores(query).astype(np.float32)
        ceiling = sum(self.idf.get(t, self.max_idf) for t in query) * (self.k1 + 1)
        oov = sum(1 for t in query if t not in self.idf) / len(query)
        return raw, max(ceiling, 1e-6), oov


class _Vocabulary:
    """Stem counts of one language's questions and answers, to spot unknown words.

    A shopper's word the KB never uses (not even with a typo's distance) hints that
    the question is about something else ("reset my Gmail password"). Counts, not a
    set, so self-calibration can remove a held-out question's or entry's words.
    """

    def __init__(self, unit_tokens: dict[int, list[str]], answer_tokens: dict[int, list[str]]):
        self.unit_tokens = unit_tokens
        self.answer_tokens = answer_tokens
        self.counts: Counter[str] = Counter()
        for toks in (*unit_tokens.values(), *answer_tokens.values()):
            self.counts.update(set(toks))
        self.words = list(self.counts)
        self._verdicts: dict[str, bool] = {}

    def unknown_share(self, query: list[str], minus: Counter[str] | None = None) -> float:
        words = [t for t in query if len(t) >= 3 and not t.isdigit()]
        if not words:
            return 0.0
        if not minus:   # a shopper's question: the whole KB counts, and recent verdicts are kept
            return sum(1 for t in words if not self._known_in_kb(t)) / len(words)
        return sum(1 for t in words if not self._known(t, minus)) / len(words)

    def _known_in_kb(self, t: str) -> bool:
        """`_known` against the whole KB, remembered: the fuzzy pass scans every KB word."""
        verdict = self._verdicts.get(t)
        if verdict is None:
            if len(self._verdicts) >= 20_000:
                self._verdicts.clear()
            verdict = self._verdicts[t] = self._known(t, Counter())
        return verdict

    def _known(self, t: str, minus: Counter[str]) -> bool:
        if self.counts.get(t, 0) - minus.get(t, 0) > 0:
            return True
        if len(t) < 5:
            return False
        near = process.extract(t, self.words, scorer=Levenshtein.distance,
                               score_cutoff=1 if len(t) < 8 else 2, limit=5)
        return any(self.counts[w] - minus.get(w, 0) > 0 for w, _, _ in near)

    def without(self, units: list[int], entries: list[int]) -> Counter[str]:
        minus: Counter[str] = Counter()
        for u in units:
            minus.update(set(self.unit_tokens.get(u, [])))
        for e in entries:
            minus.update(set(self.answer_tokens.get(e, [])))
        return minus


class _QueryParts(NamedTuple):
    """A query's signals that do not depend on the language searched (per entry, but `qchar`)."""

    dense: np.ndarray
    char: np.ndarray
    char_answer: np.ndarray
    qchar: sparse.csr_matrix         # its character TF-IDF row
    centroid: np.ndarray
    answer: np.ndarray
    per_model: tuple[np.ndarray, ...]


class HybridIndex:
    """Immutable once built; a rebuilt KB yields a new instance (atomic swap)."""

    FORMAT = 7
    # (query key, its language-independent signals) of the last query: `_shared`
    _last_shared: tuple[tuple[str, bytes], _QueryParts] | None = None

    def __init__(self, entries: list[Entry], unit_entry: np.ndarray, unit_text: list[str],
                 unit_emb: np.ndarray, answer_emb: np.ndarray, vectorizer: TfidfVectorizer,
                 unit_char: sparse.csr_matrix, answer_char: sparse.csr_matrix,
                 classifiers: dict[tuple[str, str], LinearSVC | None], model_name: str, model_id: str,
                 word_vectors: dict[str, str] | None = None,
                 slices: list[tuple[int, int]] | None = None):
        self.entries = entries
        self.unit_entry = unit_entry
        self.unit_text = unit_text
        self.unit_emb = unit_emb
        self.answer_emb = answer_emb
        self.vectorizer = vectorizer
        self.unit_char = unit_char
        self.answer_char = answer_char
        # features x rows layout: a query touches only the rows of its own n-grams
        self._unit_char_t = unit_char.T.tocsr()
        self._answer_char_t = answer_char.T.tocsr()
        self.classifiers = classifiers
        # keyed by (kind, lang), kind "char" or "emb"; the fold models exist at build time only
        self.fold_classifiers: dict[tuple[str, str], list[LinearSVC | None]] = {}
        self.unit_fold = np.arange(len(unit_text)) % CLF_FOLDS
        self.model_name = model_name
        self.model_id = model_id
        # each embedder's columns in the joined vectors (retrieval.embedders.MultiEmbedder)
        self.slices = [tuple(s) for s in (slices or [(0, unit_emb.shape[1])])]
        self.word_vector_packages = dict(word_vectors or {})
        self.entry_lang = np.array([e.lang for e in entries])
        self.langs = sorted(set(self.entry_lang.tolist()))
        self.starts = np.searchsorted(unit_entry, np.arange(len(entries)))
        self.units_per_entry = np.bincount(unit_entry, minlength=len(entries))
        self.centroid_sum = np.add.reduceat(unit_emb, self.starts, axis=0)
        self.faiss = faiss.IndexFlatIP(unit_emb.shape[1])
        self.faiss.add(unit_emb)
        self._build_lexical()

    def _build_lexical(self) -> None:
        self.partitions: dict[str, tuple[_Bm25Partition, np.ndarray, _Bm25Partition, np.ndarray]] = {}
        self.vocab: dict[str, _Vocabulary] = {}
        self.word_vectors: dict[str, WordVectorIndex] = {}
        for lang in self.langs:
            units = np.flatnonzero(self.entry_lang[self.unit_entry] == lang)
            ents = np.flatnonzero(self.entry_lang == lang)
            unit_toks = {int(u): tokens(self.unit_text[u], lang) for u in units}
            ans_toks = {int(e): tokens(self.entries[e].answer, lang) for e in ents}
            unit_bm = _Bm25Partition(list(unit_toks.values()))
            ans_bm = _Bm25Partition(list(ans_toks.values()))
            self.partitions[lang] = (unit_bm, units, ans_bm, ents)
            self.vocab[lang] = _Vocabulary(unit_toks, ans_toks)
            package = self.word_vector_packages.get(lang)
            table = load_table(package, lang) if package else None
            if table is not None:
                self.word_vectors[lang] = WordVectorIndex(
                    table, {int(u): self.unit_text[u] for u in units}, len(self.unit_text))

    # ---- construction -------------------------------------------------------------------------
    @classmethod
    def build(cls, kb: KnowledgeBase, embedder: Embedder, progress: bool = False,
              word_vectors: dict[str, str] | None = None, folds: bool = True,
              like: HybridIndex | None = None, changed: frozenset[str] = frozenset(),
              reuse: HybridIndex | None = None) -> HybridIndex:
        """`folds=False`: without the cross-fitted classifiers only calibration uses (an index
        that serves with another's calibration, like the FAQ studio's drafts).

        `like` + `changed` (the ids of the entries that differ from it): a draft of `like`, built in
        a fraction of the time. It keeps `like`'s character n-gram vocabulary and the one-vs-rest
        classifier rows of the unchanged entries; only the changed entries' rows are trained (each
        against all the others). Those rows were trained against the old version of the changed
        entries: a second-order difference, fine for a preview, not for serving.

        `reuse`: an index of the same KB before an edit, whose embedding classifier rows are kept
        where the edit provably leaves them as they are (`_kept_rows`); everything else is built
        as without it, so the result is the full build's (the FAQ studio's impact check: 8.4 s of
        a 150-entry KB's draft were training that classifier's rows, one after another)."""
        entries = sorted(kb.entries, key=lambda e: e.id)
        unit_entry: list[int] = []
        unit_text: list[str] = []
        for i, e in enumerate(entries):
            texts = list(dict.fromkeys([*e.questions, e.title]))
            unit_entry.extend([i] * len(texts))
            unit_text.extend(texts)
        unit_emb = embedder.encode(unit_text, progress=progress)
        answer_emb = embedder.encode([_answer_text(e) for e in entries], progress=progress, kind="passage")
        answers = [e.answer for e in entries]
        if like is not None:
            vectorizer = like.vectorizer
        else:
            vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True,
                                         preprocessor=fold, dtype=np.float32, max_features=MAX_CHAR_FEATURES)
            vectorizer.fit(unit_text + answers)
        unit_char = vectorizer.transform(unit_text).tocsr()
        answer_char = vectorizer.transform(answers).tocsr()
        unit_entry_arr = np.asarray(unit_entry, dtype=np.int64)
        index = cls(entries, unit_entry_arr, unit_text, unit_emb, answer_emb, vectorizer, unit_char,
                    answer_char, {}, embedder.name, embedder.id, word_vectors,
                    getattr(embedder, "slices", None))
        # Both classifiers learn from each question and a shopper-like copy of it.
        copies = [shopper_copy(t) for t in unit_text]
        copy_char = vectorizer.transform(copies).tocsr()
        copy_emb = embedder.encode(copies, progress=progress)
        classifiers, fold_jobs = {}, {}
        pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="index-clf")
        for lang in index.langs:
            units = np.flatnonzero(index.entry_lang[unit_entry_arr] == lang)
            labels, fold_of = unit_entry_arr[units], index.unit_fold[units]
            features = {
                "char": (unit_char[units], copy_char[units]),
                "emb": (index.emb_features(unit_emb[units], [unit_text[u] for u in units], lang),
                        index.emb_features(copy_emb[units], [copies[u] for u in units], lang)),
            }
            before = reuse.classifiers.get(("emb", lang)) if reuse is not None else None
            if isinstance(before, LinearSVC):
                kept, differing = _kept_rows(reuse, entries, [unit_text[u] for u in units], labels, lang,
                                             embedder)
                clean, noisy_x = features.pop("emb")
                classifiers["emb", lang] = pool.submit(_patched_classifier, before, clean, noisy_x, labels,
                                                       kept, differing)
            for kind, (clean, noisy_x) in features.items():
                reused = like.classifiers.get((kind, lang)) if like is not None else None
                if isinstance(reused, LinearSVC):
                    old = {e.id: i for i, e in enumerate(like.entries)}
                    classifiers[kind, lang] = pool.submit(
                        _patched_classifier, reused, clean, noisy_x, labels,
                        [old.get(e.id, -1) if e.id not in changed else -1 for e in entries])
                    continue
                classifiers[kind, lang] = pool.submit(_train_classifier, clean, noisy_x, labels)
                fold_jobs[kind, lang] = [
                    pool.submit(_train_classifier, clean[fold_of != k], noisy_x[fold_of != k],
                                labels[fold_of != k])
                    for k in range(CLF_FOLDS)] if folds else []
        # liblinear runs without the GIL: the classifiers train side by side
        index.classifiers = {key: job.result() for key, job in classifiers.items()}
        index.fold_classifiers = {key: [job.result() for job in jobs] for key, jobs in fold_jobs.items()}
        pool.shutdown()
        return index

    # ---- scoring ------------------------------------------------------------------------------
    def _per_entry_max(self, unit_scores: np.ndarray) -> np.ndarray:
        return np.maximum.reduceat(unit_scores, self.starts)

    def signals(self, query: str, qvec: np.ndarray, lang: str,
                exclude_units: np.ndarray | None = None, fold: int | None = None,
                qchar: sparse.csr_matrix | None = None) -> Signals:
        """Per-entry signals for entries in `lang`'s partition (others get NEG).

        `exclude_units` and `fold` serve self-calibration: the held-out question is
        invisible to every signal, including the classifier (the fold that lacks it).
        """
        n_units, n_entries = len(self.unit_text), len(self.entries)
        if exclude_units is None and qchar is None:
            shared = self._shared(query, qvec)
        else:
            shared = self._query_parts(query, qvec, exclude_units, qchar)
        clf = self._classify("char", lang, shared.qchar, fold)
        clf_emb = self._classify("emb", lang, self.emb_features(qvec.reshape(1, -1), [query], lang), fold)
        unit_bm, units, ans_bm, ents = self.partitions[lang]
        qtok = tokens(query, lang)
        raw, ceiling, oov = unit_bm.scores(qtok)
        bm_units = np.zeros(n_units, dtype=np.float32)
        bm_units[units] = raw / ceiling
        araw, aceil, _ = ans_bm.scores(qtok)
        bm_answer = np.zeros(n_entries, dtype=np.float32)
        bm_answer[ents] = araw / aceil

        wv = self.word_vectors.get(lang)
        if wv is not None:
            wv_mean, wv_soft = wv.scores(query)
        else:
            wv_mean = wv_soft = np.zeros(n_units, dtype=np.float32)
        if exclude_units is not None and len(exclude_units):
            for arr in (bm_units, wv_mean, wv_soft):
                arr[exclude_units] = NEG
        outside = self.entry_lang != lang
        sig = Signals(
            dense=shared.dense.copy(),
            centroid=shared.centroid.copy(),
            answer=shared.answer.copy(),
            char=shared.char.copy(),
            bm25=self._per_entry_max(bm_units),
            bm25_answer=bm_answer,
            char_answer=shared.char_answer.copy(),
            clf=clf,
            clf_emb=clf_emb,
            wv_mean=self._per_entry_max(wv_mean),
            wv_soft=self._per_entry_max(wv_soft),
            oov=oov,
            n_tokens=len(qtok),
            unknown=self.unknown(qtok, lang, exclude_units),
            per_model=tuple(a.copy() for a in shared.per_model),
        )
        for arr in sig.arrays():
            arr[outside] = NEG
        return sig

    def _shared(self, query: str, qvec: np.ndarray) -> _QueryParts:
        """The signals that do not depend on the language, for the last query asked: a search
        that tries the shopper's language and then the other one computes them once (the dense
        search, the character n-grams, every cosine). Read-only arrays, copied by `signals`."""
        key = (query, qvec.tobytes())
        last = self._last_shared
        if last is not None and last[0] == key:
            return last[1]
        parts = self._query_parts(query, qvec, None, None)
        for part in parts:
            if isinstance(part, np.ndarray):
                part.setflags(write=False)
        self._last_shared = (key, parts)   # one assignment: threads see the old pair or the new one
        return parts

    def _query_parts(self, query: str, qvec: np.ndarray, exclude_units: np.ndarray | None,
                     qchar: sparse.csr_matrix | None) -> _QueryParts:
        n_units = len(self.unit_text)
        k = min(n_units, DENSE_TOPK + (0 if exclude_units is None else len(exclude_units)))
        sims, ids = self.faiss.search(qvec.reshape(1, -1), k)
        dense_units = np.full(n_units, sims[0, -1], dtype=np.float32)
        dense_units[ids[0]] = sims[0]
        if qchar is None:  # calibration passes the rows of one batched transform
            qchar = self.char_row(query)
        char_units = _sparse_dot(qchar, self._unit_char_t)
        char_answer = _sparse_dot(qchar, self._answer_char_t)
        centroid_sum = self.centroid_sum
        counts = self.units_per_entry.astype(np.float32)
        if exclude_units is not None and len(exclude_units):
            for arr in (dense_units, char_units):
                arr[exclude_units] = NEG
            centroid_sum = centroid_sum.copy()
            counts = counts.copy()
            np.subtract.at(centroid_sum, self.unit_entry[exclude_units], self.unit_emb[exclude_units])
            np.subtract.at(counts, self.unit_entry[exclude_units], 1)
        norms = (self._centroid_norms[0] if centroid_sum is self.centroid_sum
                 else np.linalg.norm(centroid_sum, axis=1))
        centroid = (centroid_sum @ qvec.ravel()) / np.maximum(norms, 1e-6)
        centroid[counts <= 0] = NEG
        per_model = self._per_model(qvec.ravel(), exclude_units, centroid_sum)
        return _QueryParts(dense=self._per_entry_max(dense_units), char=self._per_entry_max(char_units),
                           char_answer=char_answer, qchar=qchar, centroid=centroid.astype(np.float32),
                           answer=(self.answer_emb @ qvec.ravel()).astype(np.float32), per_model=per_model)

    def _per_model(self, q: np.ndarray, exclude_units: np.ndarray | None,
                   centroid_sum: np.ndarray) -> tuple[np.ndarray, ...]:
        """Each embedder's own cosines (the joined vector only gives their mean). Slices of
        normalised-then-scaled vectors: cosine = slice dot / scale^2, and centroids normalise
        per slice."""
        if len(self.slices) < 2:
            return ()
        inv_scale2 = float(len(self.slices))
        out: list[np.ndarray] = []
        for i, (a, b) in enumerate(self.slices):
            units = (self.unit_emb[:, a:b] @ q[a:b]) * inv_scale2
            if exclude_units is not None and len(exclude_units):
                units[exclude_units] = NEG
            part = centroid_sum[:, a:b]
            norms = (self._centroid_norms[1][i] if centroid_sum is self.centroid_sum
                     else np.linalg.norm(part, axis=1))
            centroid = (part @ q[a:b]) / np.maximum(norms, 1e-6)
            centroid = centroid * np.sqrt(inv_scale2)
            centroid[norms <= 1e-6] = NEG
            answer = (self.answer_emb[:, a:b] @ q[a:b]) * inv_scale2
            out += [self._per_entry_max(units.astype(np.float32)), centroid.astype(np.float32),
                    answer.astype(np.float32)]
        return tuple(out)

    def emb_features(self, emb: np.ndarray, texts: list[str], lang: str) -> np.ndarray:
        """Sentence embeddings, joined by mean word vectors where the language has them."""
        wv = self.word_vectors.get(lang)
        return emb if wv is None else np.hstack([emb, wv.mean(texts)])

    def _classify(self, kind: str, lang: str, x, fold: int | None) -> np.ndarray:
        model = (self.classifiers[kind, lang] if fold is None
                 else self.fold_classifiers[kind, lang][fold])
        out = np.full(len(self.entries), NEG, dtype=np.float32)
        if model is not None:
            out[model.classes_] = _decision(model, x)
        return out

    @cached_property
    def _centroid_norms(self) -> tuple[np.ndarray, list[np.ndarray]]:
        """Norms of the entries' centroids, whole and per embedder slice: the same for every query."""
        return (np.linalg.norm(self.centroid_sum, axis=1),
                [np.linalg.norm(self.centroid_sum[:, a:b], axis=1) for a, b in self.slices])

    @cached_property
    def _char_analyzer(self) -> Any:
        return self.vectorizer.build_analyzer()

    def char_row(self, query: str) -> sparse.csr_matrix:
        """The query's character n-gram TF-IDF row, as `vectorizer.transform([query])` computes
        it (sublinear tf, idf, l2; float32) without sklearn's checks around one row, which cost
        more than the row itself (~0.4 ms a query)."""
        vocabulary = self.vectorizer.vocabulary_
        counts = Counter(i for i in map(vocabulary.get, self._char_analyzer(query)) if i is not None)
        n = len(vocabulary)
        if not counts:
            return sparse.csr_matrix((1, n), dtype=np.float32)
        idx = np.fromiter(sorted(counts), dtype=np.int32, count=len(counts))
        data = np.array([counts[i] for i in idx.tolist()], dtype=np.float32)
        np.log(data, out=data)
        data += 1
        data *= self.vectorizer.idf_[idx]
        # as sklearn's l2 normalisation: float32 squares summed in float64, the division in float64
        data = (data / np.sqrt(np.sum(data * data, dtype=np.float64))).astype(np.float32)
        return sparse.csr_matrix((data, idx, np.array([0, len(idx)], dtype=np.int32)), shape=(1, n))

    @cached_property
    def respell(self) -> Respeller:
        """The KB's own spelling of an unaccented word (text.Respeller)."""
        return Respeller(self.unit_text + [t for e in self.entries for t in (e.title, e.answer)])

    def unknown(self, qtok: list[str], lang: str, exclude_units: np.ndarray | None = None,
                exclude_entry: int | None = None) -> float:
        """Share of unknown query words, as if the excluded units/entry were not in the KB."""
        vocab = self.vocab[lang]
        units = [] if exclude_units is None else [int(u) for u in exclude_units]
        entries = []
        if exclude_entry is not None:
            start = int(self.starts[exclude_entry])
            units += list(range(start, start + int(self.units_per_entry[exclude_entry])))
            entries.append(exclude_entry)
        return vocab.unknown_share(qtok, vocab.without(units, entries) if units or entries else None)

    # ---- persistence --------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / "arrays.npz", unit_entry=self.unit_entry, unit_emb=self.unit_emb,
                 answer_emb=self.answer_emb)
        with open(folder / "lexical.pkl", "wb") as f:
            pickle.dump({"vectorizer": self.vectorizer, "unit_char": self.unit_char,
                         "answer_char": self.answer_char, "classifiers": self.classifiers}, f)
        (folder / "entries.json").write_text(json.dumps({
            "format": self.FORMAT, "model_name": self.model_name, "model_id": self.model_id,
            "slices": self.slices,
            "word_vectors": self.word_vector_packages,
            "unit_text": self.unit_text, "entries": [asdict(e) for e in self.entries],
        }, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> HybridIndex:
        meta = json.loads((folder / "entries.json").read_text(encoding="utf-8"))
        if meta.get("format") != cls.FORMAT:
            raise ValueError("index format changed")
        arrays = np.load(folder / "arrays.npz")
        with open(folder / "lexical.pkl", "rb") as f:
            lex = pickle.load(f)  # our own file under var/, written by save()
        entries = [Entry(**{**e, "questions": tuple(e["questions"]), "tags": tuple(e["tags"])})
                   for e in meta["entries"]]
        return cls(entries, arrays["unit_entry"], meta["unit_text"], arrays["unit_emb"],
                   arrays["answer_emb"], lex["vectorizer"], lex["unit_char"], lex["answer_char"],
                   lex["classifiers"], meta["model_name"], meta["model_id"], meta["word_vectors"],
                   meta.get("slices"))


class CentroidClassifier:
    """Nearest-centroid scores (cosine to each class's mean row): the linear classifier's
    stand-in for KBs with many entries, where one-vs-rest training grows with
    entries x questions while this stays linear in the questions."""

    def __init__(self, x, labels: np.ndarray):
        self.classes_ = np.unique(labels)
        rows = np.searchsorted(self.classes_, labels)
        member = sparse.csr_matrix((np.ones(len(labels), dtype=np.float32),
                                    (rows, np.arange(len(labels)))),
                                   shape=(len(self.classes_), len(labels)))
        centroids = member @ x
        norms = np.sqrt(np.asarray((centroids.multiply(centroids)).sum(axis=1)).ravel()
                        if sparse.issparse(centroids) else (centroids ** 2).sum(axis=1))
        scale = sparse.diags(1 / np.maximum(norms, 1e-9).astype(np.float32))
        self.coef_ = (scale @ centroids).astype(np.float32)
        self._coef_t = self.coef_.T.tocsr() if sparse.issparse(self.coef_) else self.coef_.T

    def decision_function(self, x) -> np.ndarray:
        if sparse.issparse(self._coef_t):
            return _sparse_dot(x, self._coef_t).reshape(1, -1)
        return np.asarray(x @ self._coef_t)


def _train_classifier(clean, noisy_x, labels: np.ndarray) -> LinearSVC | CentroidClassifier | None:
    """One-vs-rest linear SVM on the questions and their copies, labelled by entry
    (nearest centroid beyond MAX_SVM_CLASSES entries)."""
    n_classes = len(set(labels.tolist()))
    if n_classes < 2:
        return None
    stack = sparse.vstack if sparse.issparse(clean) else np.vstack
    x = stack([clean, noisy_x])
    labels = np.concatenate([labels, labels])
    if n_classes > MAX_SVM_CLASSES:
        return CentroidClassifier(x, labels)
    model = LinearSVC(C=1.0)
    model.fit(x, labels)
    model.coef_ = model.coef_.astype(np.float32)  # halves the memory of large KBs
    return model


def _kept_rows(before: HybridIndex, entries: list[Entry], texts: list[str], labels: np.ndarray, lang: str,
               embedder: Embedder) -> tuple[list[int], np.ndarray]:
    """Which rows of `before`'s embedding classifier in `lang` an exact build may keep, and the
    features of the training samples that differ (questions and titles, each with its shopper
    copy, that one side has and the other lacks).

    A row of a one-vs-rest SVM with the squared hinge loss is its class against all the other
    samples; a sample the row puts beyond its margin (y * f(x) >= 1) adds nothing to the loss or
    its gradient. So when an edit only adds or removes other entries' samples and the row puts
    each of them beyond its margin, the row is still the optimum of the new problem: kept. The
    rows of entries whose own samples changed are trained again, and so are rows that fail the
    test (`_patched_classifier`)."""
    units = np.flatnonzero(before.entry_lang[before.unit_entry] == lang)
    old = {(before.entries[before.unit_entry[u]].id, before.unit_text[u]) for u in units}
    new = {(entries[label].id, text) for label, text in zip(labels.tolist(), texts, strict=True)}
    diff = sorted(old ^ new)
    touched = {entry_id for entry_id, _ in diff}
    position = {e.id: i for i, e in enumerate(before.entries)}
    kept = [position.get(e.id, -1) if e.id not in touched else -1 for e in entries]
    samples = [text for _, text in diff]
    samples += [shopper_copy(t) for t in samples]
    if not samples:
        return kept, np.zeros((0, 0), dtype=np.float32)
    return kept, before.emb_features(embedder.encode(samples), samples, lang)


def _patched_classifier(live: LinearSVC, clean, noisy_x, labels: np.ndarray,
                        live_index_of: list[int], differing: np.ndarray | None = None,
                        ) -> LinearSVC | CentroidClassifier | None:
    """A one-vs-rest classifier for a draft (see HybridIndex.build's `like`): each class's row
    taken from `live` where the entry is unchanged (`live_index_of[entry]` >= 0), trained as
    that entry against all the others where it changed or is new. With `differing` (the samples
    one training set has and the other lacks, see `_kept_rows`), a kept row must also put each
    of them beyond its margin, or it is trained again: the result is then the full training's."""
    classes = np.unique(labels)
    if len(classes) < 2:
        return None
    live_rows = {int(c): i for i, c in enumerate(live.classes_)}
    if len(live.classes_) == 2 or len(classes) == 2:
        return _train_classifier(clean, noisy_x, labels)   # sklearn's binary shape: not worth patching
    stack = sparse.vstack if sparse.issparse(clean) else np.vstack
    x = stack([clean, noisy_x])
    both = np.concatenate([labels, labels])
    coef = np.zeros((len(classes), live.coef_.shape[1]), dtype=np.float32)
    intercept = np.zeros(len(classes), dtype=np.float64)
    for row, cls_ in enumerate(classes):
        source = live_rows.get(live_index_of[int(cls_)]) if live_index_of[int(cls_)] >= 0 else None
        if source is not None and differing is not None and len(differing):
            margins = -(differing @ live.coef_[source] + live.intercept_[source])
            if float(np.min(margins)) < 1.0 + MARGIN_SLACK:
                source = None
        if source is not None:
            coef[row], intercept[row] = live.coef_[source], live.intercept_[source]
            continue
        binary = LinearSVC(C=1.0).fit(x, (both == cls_).astype(np.int8))
        coef[row], intercept[row] = binary.coef_[0], binary.intercept_[0]
    model = LinearSVC(C=1.0)
    model.classes_, model.coef_, model.intercept_ = classes, coef, intercept
    return model


def _sparse_dot(row: sparse.csr_matrix, matrix_t: sparse.csr_matrix) -> np.ndarray:
    """One sparse row times a (features x items) CSR matrix, as a dense float32 vector."""
    return np.asarray((row @ matrix_t).todense(), dtype=np.float32).ravel()


def _decision(model: LinearSVC | CentroidClassifier, x) -> np.ndarray:
    if isinstance(model, LinearSVC):  # decision_function's input checks cost more than the product
        scores = np.asarray(x @ model.coef_.T, dtype=np.float32).ravel() + model.intercept_
    else:
        scores = np.asarray(model.decision_function(x), dtype=np.float32).ravel()
    if len(model.classes_) == 2 and len(scores) == 1:  # sklearn returns one column for two classes
        return np.array([-scores[0], scores[0]], dtype=np.float32)
    return scores


def _answer_text(entry: Entry) -> str:
    """Title + answer: what the entry says, for the answer-side signals."""
    return f"{entry.title}. {entry.answer}"
