"""The hybrid index: dense (faiss), BM25 (bm25s + Snowball) and character n-grams.

An entry is reachable through its *units*: each question and its title (dense,
BM25, n-grams, best unit wins) and its answer (dense and BM25). `signals()`
returns the raw per-entry scores the scorer fuses; it can leave units or whole
entries out, which is how the index calibrates itself on its own questions.
"""

from __future__ import annotations

import json
import math
import pickle
from dataclasses import asdict, dataclass
from pathlib import Path

import bm25s
import faiss
import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from .embedder import Embedder
from .kb import Entry, KnowledgeBase
from .text import fold, tokens

DENSE_TOPK = 256  # units fetched from faiss per query; the rest get the k-th score as a bound
NEG = -1.0


@dataclass
class Signals:
    """Raw per-entry scores for one query (arrays of length n_entries)."""

    dense: np.ndarray      # best question/title cosine
    centroid: np.ndarray   # cosine to the mean of the entry's questions
    answer: np.ndarray     # cosine to the answer
    char: np.ndarray       # best question/title character n-gram cosine
    bm25: np.ndarray       # best question/title BM25, as a share of the query's maximum
    bm25_answer: np.ndarray
    oov: float             # share of query words unknown to the KB
    n_tokens: int


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


class HybridIndex:
    """Immutable once built; a rebuilt KB yields a new instance (atomic swap)."""

    FORMAT = 3

    def __init__(self, entries: list[Entry], unit_entry: np.ndarray, unit_text: list[str],
                 unit_emb: np.ndarray, answer_emb: np.ndarray, vectorizer: TfidfVectorizer,
                 unit_char: sparse.csr_matrix, model_name: str, model_id: str):
        self.entries = entries
        self.unit_entry = unit_entry
        self.unit_text = unit_text
        self.unit_emb = unit_emb
        self.answer_emb = answer_emb
        self.vectorizer = vectorizer
        self.unit_char = unit_char
        self.model_name = model_name
        self.model_id = model_id
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
        for lang in self.langs:
            units = np.flatnonzero(self.entry_lang[self.unit_entry] == lang)
            ents = np.flatnonzero(self.entry_lang == lang)
            unit_bm = _Bm25Partition([tokens(self.unit_text[u], lang) for u in units])
            ans_bm = _Bm25Partition([tokens(self.entries[e].answer, lang) for e in ents])
            self.partitions[lang] = (unit_bm, units, ans_bm, ents)

    # ---- construction -------------------------------------------------------------------------
    @classmethod
    def build(cls, kb: KnowledgeBase, embedder: Embedder, progress: bool = False) -> HybridIndex:
        entries = sorted(kb.entries, key=lambda e: e.id)
        unit_entry: list[int] = []
        unit_text: list[str] = []
        for i, e in enumerate(entries):
            texts = list(dict.fromkeys([*e.questions, e.title]))
            unit_entry.extend([i] * len(texts))
            unit_text.extend(texts)
        unit_emb = embedder.encode(unit_text, progress=progress)
        answer_emb = embedder.encode([_answer_text(e) for e in entries], progress=progress)
        vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True,
                                     preprocessor=fold, dtype=np.float32)
        unit_char = vectorizer.fit_transform(unit_text).tocsr()
        return cls(entries, np.asarray(unit_entry, dtype=np.int64), unit_text, unit_emb,
                   answer_emb, vectorizer, unit_char, embedder.name, embedder.id)

    # ---- scoring ------------------------------------------------------------------------------
    def _per_entry_max(self, unit_scores: np.ndarray) -> np.ndarray:
        return np.maximum.reduceat(unit_scores, self.starts)

    def signals(self, query: str, qvec: np.ndarray, lang: str,
                exclude_units: np.ndarray | None = None) -> Signals:
        """Per-entry signals for entries in `lang`'s partition (others get NEG)."""
        n_units, n_entries = len(self.unit_text), len(self.entries)
        k = min(n_units, DENSE_TOPK + (0 if exclude_units is None else len(exclude_units)))
        sims, ids = self.faiss.search(qvec.reshape(1, -1), k)
        dense_units = np.full(n_units, sims[0, -1], dtype=np.float32)
        dense_units[ids[0]] = sims[0]
        qchar = self.vectorizer.transform([query])
        char_units = np.asarray((self.unit_char @ qchar.T).todense()).ravel().astype(np.float32)
        unit_bm, units, ans_bm, ents = self.partitions[lang]
        qtok = tokens(query, lang)
        raw, ceiling, oov = unit_bm.scores(qtok)
        bm_units = np.zeros(n_units, dtype=np.float32)
        bm_units[units] = raw / ceiling
        araw, aceil, _ = ans_bm.scores(qtok)
        bm_answer = np.zeros(n_entries, dtype=np.float32)
        bm_answer[ents] = araw / aceil

        centroid_sum = self.centroid_sum
        counts = self.units_per_entry.astype(np.float32)
        if exclude_units is not None and len(exclude_units):
            for arr in (dense_units, char_units, bm_units):
                arr[exclude_units] = NEG
            centroid_sum = centroid_sum.copy()
            counts = counts.copy()
            np.subtract.at(centroid_sum, self.unit_entry[exclude_units], self.unit_emb[exclude_units])
            np.subtract.at(counts, self.unit_entry[exclude_units], 1)
        norms = np.linalg.norm(centroid_sum, axis=1)
        centroid = (centroid_sum @ qvec.ravel()) / np.maximum(norms, 1e-6)
        centroid[counts <= 0] = NEG
        outside = self.entry_lang != lang
        sig = Signals(
            dense=self._per_entry_max(dense_units),
            centroid=centroid.astype(np.float32),
            answer=(self.answer_emb @ qvec.ravel()).astype(np.float32),
            char=self._per_entry_max(char_units),
            bm25=self._per_entry_max(bm_units),
            bm25_answer=bm_answer,
            oov=oov,
            n_tokens=len(qtok),
        )
        for arr in (sig.dense, sig.centroid, sig.answer, sig.char, sig.bm25, sig.bm25_answer):
            arr[outside] = NEG
        return sig

    # ---- persistence --------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / "arrays.npz", unit_entry=self.unit_entry, unit_emb=self.unit_emb,
                 answer_emb=self.answer_emb)
        with open(folder / "lexical.pkl", "wb") as f:
            pickle.dump({"vectorizer": self.vectorizer, "unit_char": self.unit_char}, f)
        (folder / "entries.json").write_text(json.dumps({
            "format": self.FORMAT, "model_name": self.model_name, "model_id": self.model_id,
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
                   arrays["answer_emb"], lex["vectorizer"], lex["unit_char"], meta["model_name"],
                   meta["model_id"])


def _answer_text(entry: Entry) -> str:
    """Title + answer: what the entry says, for the answer-side signals."""
    return f"{entry.title}. {entry.answer}"
