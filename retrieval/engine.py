"""The public search API: one query in, ranked entries with a confidence band out."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from .calibration import Thresholds
from .embedder import Embedder
from .embedders import mean_vector
from .index import HybridIndex
from .scorer import Scorer
from .text import LanguageDetector, expand_shorthand, strip_courtesy, tokens

MAX_QUERY_CHARS = 1000
RECENT_VECTORS = 1024   # vectors of the latest queries: a follow-up reuses its parts' (see _follow_up)
BAND_RANK = {"none": 0, "suggest": 1, "answer": 2}


@dataclass
class Hit:
    id: str
    score: float
    lang: str
    reason: str
    title: str
    answer: str
    band: str


@dataclass
class SearchResult:
    query: str
    query_lang: str | None      # detected language of the shopper's text
    lang: str | None            # language of the entries returned
    band: str                   # band of the best hit: answer | suggest | none
    hits: list[Hit] = field(default_factory=list)
    fallback: bool = False      # True when the answer comes from another language
    index_version: str = ""
    took_ms: float = 0.0
    context_used: bool = False  # True when a weak message was read as a follow-up of `context`

    @property
    def best(self) -> Hit | None:
        return self.hits[0] if self.hits else None

    def to_dict(self) -> dict:
        return asdict(self)


class SearchEngine:
    """Immutable: a KB change builds a new engine that replaces this one atomically."""

    def __init__(self, index: HybridIndex, scorer: Scorer, thresholds: Thresholds,
                 embedder: Embedder, detector: LanguageDetector, version: str,
                 min_lang_confidence: float = 0.6, default_lang: str = "fr", info: dict | None = None):
        self.index = index
        self.scorer = scorer
        self.thresholds = thresholds
        self.embedder = embedder
        self.detector = detector
        self.version = version
        self.min_lang_confidence = min_lang_confidence
        self.default_lang = default_lang
        self.info = info or {}
        self._ids = {e.id for e in index.entries}
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        self._recent_lock = threading.Lock()

    def entry(self, entry_id: str) -> Hit | None:
        """An entry by id, as a sure hit (a shopper clicked it among the suggestions)."""
        for e in self.index.entries:
            if e.id == entry_id:
                return Hit(e.id, 1.0, e.lang, e.reason, e.title, e.answer, "answer")
        return None

    def _translated(self, hit: Hit, lang: str) -> bool:
        """Does the KB have this entry in `lang` too? By the id convention `topic-fr` / `topic-en`."""
        stem = hit.id.removesuffix(f"-{hit.lang}")
        return stem != hit.id and f"{stem}-{lang}" in self._ids

    def variants(self, entry_id: str) -> dict[str, str]:
        """The entry's A/B answer variants (name -> answer), empty when it has none."""
        for e in self.index.entries:
            if e.id == entry_id:
                return dict(e.variants)
        return {}

    def _query_lang(self, text: str, hint: str | None) -> str | None:
        detected, confidence = self.detector.detect(text)
        if detected and confidence >= self.min_lang_confidence:
            return detected
        return hint or detected or self.default_lang

    def _nothing_known(self, text: str) -> bool:
        """One word that the KB never uses in any of its languages, even misspelt ("zzzz",
        "qsdfgh", a bare "thanks"): nothing worth suggesting. A sentence always goes through the
        encoders: its words may be unknown and its meaning still close ("en combien de temps je
        suis livrée ?" to a KB that only says "délais de livraison"), and an English question
        to a French-only KB finds its French answer."""
        words = tokens(text, self.index.langs[0])
        return len(words) == 1 and all(self._unknown_share(text, lg) >= 1.0 for lg in self.index.langs)

    def _rank_in(self, text: str, qvec: np.ndarray, lang: str, k: int) -> list[Hit]:
        sig = self.index.signals(text, qvec, lang)
        order, scores = self.scorer.rank(sig, lang)
        hits = []
        for e, s in zip(order[:k], scores[:k], strict=True):
            entry = self.index.entries[int(e)]
            hits.append(Hit(entry.id, round(float(s), 4), entry.lang, entry.reason, entry.title,
                            entry.answer, self.thresholds.band(float(s))))
        return hits

    def _vector(self, text: str) -> np.ndarray:
        """The query vector of an already prepared text, from the recent ones when asked lately."""
        with self._recent_lock:
            vec = self._recent.get(text)
            if vec is not None:
                self._recent.move_to_end(text)
                return vec
        vec = self.embedder.encode_query(text)
        vec.setflags(write=False)   # shared by later searches: nothing may change it in place
        with self._recent_lock:
            self._recent[text] = vec
            while len(self._recent) > RECENT_VECTORS:
                self._recent.popitem(last=False)
        return vec

    def _prepared(self, text: str, lang: str) -> str:
        # greetings and "please" carry no topic but would count as unknown words; SMS shorthand
        # ("c koi", "cb") is written out as the KB would say it
        return expand_shorthand(strip_courtesy(text), lang)

    def search(self, query: str, lang: str | None = None, k: int = 3,
               context: str | None = None, *, _parts: tuple[str, str] | None = None) -> SearchResult:
        """Best entries for a shopper's message, preferring its language.

        `lang` is a hint (e.g. the widget's language) used when the text is too
        short to tell. Entries in the other language are used only when nothing
        fits in the shopper's own. `context` is the conversation's previous FAQ
        question (or its entry id): used only when the message alone is weak.
        """
        start = time.perf_counter()
        text = " ".join((query or "").split())[:MAX_QUERY_CHARS]
        query_lang = self._query_lang(text, lang) if text else (lang or self.default_lang)
        result = SearchResult(query=text, query_lang=query_lang, lang=None, band="none",
                              index_version=self.version)
        langs = self.index.langs
        preferred = query_lang if query_lang in langs else (
            lang if lang in langs else (self.default_lang if self.default_lang in langs else langs[0]))
        text_to_match = self._prepared(text, preferred)
        if not text or self._nothing_known(text_to_match):
            result.took_ms = round((time.perf_counter() - start) * 1000, 2)
            return result
        text_to_match = self.index.respell(text_to_match)
        if _parts is None:
            qvec = self._vector(text_to_match)
        else:   # a follow-up: its parts' vectors (most likely encoded already), weighted by length
            prepared = [self.index.respell(self._prepared(part, preferred)) for part in _parts]
            qvec = mean_vector(self.embedder, [self._vector(p) for p in prepared],
                               [max(len(p.split()), 1) for p in prepared])
        order = [preferred] + [lg for lg in langs if lg != preferred]
        for i, lg in enumerate(order):
            hits = self._rank_in(text_to_match, qvec, lg, k)
            band = hits[0].band if hits else "none"
            # another language wins only with a confident answer on a topic the shopper's own
            # language lacks: a parallel FR/EN KB would otherwise answer in the wrong language
            if i == 0 or (band == "answer" and result.band != "answer"
                          and not self._translated(hits[0], order[0])):
                result.hits, result.band, result.lang = hits, band, lg
                result.fallback = lg != query_lang
            if result.band == "answer":
                break
        if context and result.band != "answer":
            result = self._follow_up(result, context, k)
        result.took_ms = round((time.perf_counter() - start) * 1000, 2)
        return result

    def _follow_up(self, alone: SearchResult, context: str, k: int) -> SearchResult:
        """A weak message read as a follow-up of the previous question ("et en Belgique ?").

        The previous question and the message are searched as one text; that result replaces
        the message's own only when it is more confident, so a message that fits better on
        its own keeps its own result. The context cannot vouch for words the KB never uses
        ("et vous recrutez ?"): then the contextual hits are only suggested.
        """
        # the message goes last and whole: the joined text is cut to MAX_QUERY_CHARS like any query
        previous = self._context_text(context)[:max(0, MAX_QUERY_CHARS - len(alone.query) - 1)]
        if not previous:
            return alone
        joined = self.search(f"{previous} {alone.query}", lang=alone.query_lang, k=k,
                             _parts=(previous, alone.query))
        if not joined.best or not joined.lang or (alone.best and joined.best.score <= alone.best.score):
            return alone
        if joined.band == "answer" and self._unknown_share(alone.query, joined.lang) > 0:
            joined.band = "suggest"
            joined.hits = [replace(h, band="suggest") if h.band == "answer" else h for h in joined.hits]
        joined.query, joined.query_lang, joined.context_used = alone.query, alone.query_lang, True
        joined.fallback = joined.lang != alone.query_lang
        return joined

    def _unknown_share(self, text: str, lang: str) -> float:
        """Share of the message's words that the KB never uses, even misspelt."""
        return self.index.unknown(tokens(expand_shorthand(strip_courtesy(text), lang), lang), lang)

    def _context_text(self, context: str) -> str:
        """An entry id stands for that entry's title; any other text is the previous question."""
        text = " ".join(context.split())[:MAX_QUERY_CHARS]
        hit = self.entry(text) if text else None
        return hit.title if hit is not None else text
