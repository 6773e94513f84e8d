"""Text normalisation, stemming and language detection shared by every index.

Shoppers type without accents, in SMS style and with typos, so lexical
matching works on an accent-folded, lower-cased form of the text.
"""

from __future__ import annotations

import random
import re
import zlib
from collections import Counter
from functools import lru_cache
from pathlib import Path

import Stemmer
import yaml
from unidecode import unidecode

# Snowball algorithm per ISO code; extend together with kb.SUPPORTED_LANGS.
SNOWBALL = {
    "fr": "french", "en": "english", "de": "german", "es": "spanish",
    "it": "italian", "nl": "dutch", "pt": "portuguese",
}
_WORD_RE = re.compile(r"[a-z0-9]+")
# French elisions (l', d', j', qu'...) glue articles to words: split them off.
_ELISION_RE = re.compile(r"\b(?:[cdjlmnst]|qu|jusqu|lorsqu|puisqu)['’]", re.IGNORECASE)


def split_elisions(text: str) -> str:
    """"l'article" -> " article": French elided articles are not part of the word."""
    return _ELISION_RE.sub(" ", text)


def fold(text: str) -> str:
    """Lower-case, accent-free form used by the lexical indexes."""
    return unidecode(split_elisions(text)).lower()


_SPELLED_RE = re.compile(r"[^\W\d_]+")


class Respeller:
    """Puts back the accents a shopper left out, as the KB spells the word ("colis abime" ->
    "colis abîmé"): the sentence encoders read "abime" and "abîmé" as different words, so an
    unaccented question scored far below the same question typed with its accents. A word the
    KB itself uses is left alone ("arrive" stays when the KB has both "arrive" and "arrivé")."""

    def __init__(self, texts: list[str]):
        counts = Counter(w for t in texts for w in _SPELLED_RE.findall(t.lower()))
        self.known = set(counts)
        by_fold: dict[str, tuple[int, str]] = {}
        for word, n in counts.items():
            plain = unidecode(word)
            if plain != word and n > by_fold.get(plain, (0, ""))[0]:
                by_fold[plain] = (n, word)
        self.spelling = {plain: word for plain, (_, word) in by_fold.items()}

    def __call__(self, text: str) -> str:
        def fix(match: re.Match[str]) -> str:
            word = match.group(0)
            lower = word.lower()
            if lower in self.known:
                return word
            return self.spelling.get(unidecode(lower), word)

        return _SPELLED_RE.sub(fix, text) if self.spelling else text


@lru_cache(maxsize=16)
def _stemmer(lang: str) -> Stemmer.Stemmer:
    return Stemmer.Stemmer(SNOWBALL.get(lang, "english"))


def tokens(text: str, lang: str) -> list[str]:
    """Folded, stemmed word tokens in the given language (for BM25)."""
    words = _WORD_RE.findall(fold(text))
    return _stemmer(lang).stemWords(words)


# Lingua alone is unsure on a few words ("Et la TVA est incluse ?": fr 0.59) and sure of things
# that are no language ("'; DROP TABLE orders; --": en 0.77). The language's own function words
# ("et", "la", "est" / "is", "my", "where"), spaCy's stop-word lists, settle short messages.
SURE = 0.9      # lingua at or above this is trusted whatever the function words say
UNSURE = 0.7    # a message without any function word is never surer than this below SURE


@lru_cache(maxsize=8)
def function_words(langs: tuple[str, ...]) -> dict[str, frozenset[str]]:
    """Each language's stop words, accent-folded too, without those two languages share
    ("a", "on", "me")."""
    import spacy.util

    lists: dict[str, set[str]] = {}
    for lg in langs:
        try:
            words = spacy.util.get_lang_class(lg).Defaults.stop_words
        except (ImportError, KeyError, AttributeError):   # a language spaCy does not ship
            words = set()
        lists[lg] = {w.lower() for w in words} | {unidecode(w.lower()) for w in words}
    counts = Counter(w for words in lists.values() for w in words)
    return {lg: frozenset(w for w in words if counts[w] == 1) for lg, words in lists.items()}


class LanguageDetector:
    """Detects the language of a shopper's message among the KB's languages.

    The last results are kept: the gateway's router and the retriever ask about the same message
    in one turn (lingua: ~0.4 ms of CPU each)."""

    def __init__(self, langs: list[str]):
        from lingua import IsoCode639_1, LanguageDetectorBuilder

        self.langs = list(langs)
        self._detector = None
        if len(self.langs) >= 2:
            codes = [getattr(IsoCode639_1, code.upper()) for code in self.langs]
            self._detector = (
                LanguageDetectorBuilder.from_iso_codes_639_1(*codes).with_preloaded_language_models()
                .build()
            )
            self._function_words = function_words(tuple(self.langs))
        self._recent = lru_cache(maxsize=1024)(self._detect)

    def detect(self, text: str) -> tuple[str | None, float]:
        """Best language and its confidence (0-1); (None, 0) when undecidable."""
        return self._recent(text)

    def _detect(self, text: str) -> tuple[str | None, float]:
        if self._detector is None:
            return (self.langs[0] if self.langs else None), 1.0
        values = self._detector.compute_language_confidence_values(text)
        if not values:
            return None, 0.0
        lang, confidence = values[0].language.iso_code_639_1.name.lower(), float(values[0].value)
        if confidence >= SURE:
            return lang, confidence
        words = set(_SPELLED_RE.findall(split_elisions(text).lower()))
        votes = Counter({lg: len(words & fw) for lg, fw in self._function_words.items()})
        ranked = votes.most_common(2)
        if not ranked or ranked[0][1] == 0:      # content words only: lingua guesses
            return lang, min(confidence, UNSURE)
        lead, margin = ranked[0][0], ranked[0][1] - (ranked[1][1] if len(ranked) > 1 else 0)
        if lead == lang and margin >= 1:
            return lang, max(confidence, SURE)
        if margin >= 2:   # the lists hold a few content words ("stop", "merci"): one is no proof
            return lead, SURE
        return lang, confidence


@lru_cache(maxsize=4)
def shared_detector(langs: tuple[str, ...]) -> LanguageDetector:
    """One detector per process and set of languages: its models take a second and ~100 MB to
    load, and its recent results serve every caller."""
    return LanguageDetector(list(langs))


COURTESY = Path(__file__).with_name("data") / "courtesy.yml"


@lru_cache(maxsize=1)
def _courtesy_re() -> re.Pattern[str]:
    phrases = yaml.safe_load(COURTESY.read_text(encoding="utf-8"))["phrases"]
    alternatives = sorted({p.lower().strip() for p in phrases}, key=len, reverse=True)
    body = "|".join(r"\s+".join(map(re.escape, a.split())) for a in alternatives)
    return re.compile(rf"(?<![\w'])(?:{body})(?![\w'])")


def strip_courtesy(text: str) -> str:
    """The question without greetings, "please" and sign-offs (see data/courtesy.yml);
    the text itself if nothing else is left ("merci !" stays "merci !")."""
    lowered = text.lower().replace("\u2019", "'")  # same length as text: spans carry over
    if len(lowered) != len(text):
        return text
    out, last = [], 0
    for match in _courtesy_re().finditer(lowered):
        out.append(text[last:match.start()])
        last = match.end()
    if last == 0:
        return text
    out.append(text[last:])
    rest = " ".join("".join(out).split()).strip(" ,.;:!-")
    return rest if any(c.isalnum() for c in rest) else text


SHORTHAND = Path(__file__).with_name("data") / "shorthand.yml"


@lru_cache(maxsize=1)
def _shorthand() -> dict[str, tuple[re.Pattern[str], dict[str, str]]]:
    table = yaml.safe_load(SHORTHAND.read_text(encoding="utf-8")) or {}
    out = {}
    for lang, words in table.items():
        words = {str(k).lower(): str(v) for k, v in (words or {}).items()}
        body = "|".join(map(re.escape, sorted(words, key=len, reverse=True)))
        out[lang] = (re.compile(rf"(?<![\w'’-])(?:{body})(?![\w'’-])", re.IGNORECASE), words)
    return out


def expand_shorthand(text: str, lang: str | None) -> str:
    """SMS shorthand written out in the message's language ("c koi" -> "c'est quoi"; see
    data/shorthand.yml)."""
    pattern, words = _shorthand().get(lang or "", (None, {}))
    return pattern.sub(lambda m: words[m.group(0).lower()], text) if pattern else text


def noisy(text: str, rng: random.Random) -> str:
    """A shopper-like copy of a question: folded accents, a typo, a dropped word."""
    out = fold(text) if rng.random() < 0.7 else text.lower()
    out = "".join(c for c in out if c.isalnum() or c.isspace())
    words = out.split()
    if len(words) > 3 and rng.random() < 0.5:
        words.pop(rng.randrange(len(words)))
    for _ in range(rng.choice((1, 1, 2))):
        long_words = [i for i, w in enumerate(words) if len(w) > 3]
        if not long_words:
            break
        i = rng.choice(long_words)
        w, j = words[i], rng.randrange(1, len(words[i]) - 1)
        op = rng.random()
        if op < 0.33:
            words[i] = w[:j] + w[j + 1:]
        elif op < 0.66:
            words[i] = w[:j - 1] + w[j] + w[j - 1] + w[j + 1:]
        else:
            words[i] = w[:j] + w[j] + w[j:]
    return " ".join(words) or text


def shopper_copy(text: str) -> str:
    """The one deterministic noisy copy of a question (shared by training and calibration,
    so the embedder's cache encodes it once)."""
    return noisy(text, random.Random(zlib.crc32(text.encode())))
