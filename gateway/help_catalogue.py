"""The help centre's catalogue: the FAQ entries arranged for pages (sections by contact reason,
in the editors' taxonomy order; articles; excerpts), rebuilt only when the index or the
taxonomy changes."""

from __future__ import annotations

import html
import threading
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote

import nh3

from kit import texts

from .render import markdown_html

if TYPE_CHECKING:
    from retrieval.engine import SearchEngine
    from retrieval.kb import Entry
    from retrieval.source import FaqSource


def label(path: str, lang: str) -> str:
    """Readable name of a taxonomy node: the shop's wording, else one made from the key."""
    known = texts.section(lang, "reasons")
    if path in known:
        return known[path]
    words = path.rsplit("/", 1)[-1].replace("-", " ").replace("_", " ").strip()
    return words[:1].upper() + words[1:] if words else path


def anchor(path: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in path.lower())


def excerpt(markdown: str, limit: int = 160) -> str:
    """Plain text of an answer (through the sanitiser, never our own markdown parsing)."""
    text = html.unescape(nh3.clean(markdown_html(markdown), tags=set()))
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:.")
    return cut + "…"


def sort_key(title: str) -> str:
    return unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().casefold()


# ---- the catalogue: what the service holds, arranged for pages ----------------------------------


@dataclass(frozen=True)


class Article:
    id: str
    lang: str
    reason: str
    title: str
    answer: str

    @property
    def url(self) -> str:
        return f"/help/{self.lang}/{quote(self.id)}"

    @property
    def category(self) -> str:
        return self.reason.split("/", 1)[0]


@dataclass


class Group:
    reason: str
    label: str
    description: str
    articles: list[Article] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return "reason-" + anchor(self.reason)


@dataclass


class Section:
    category: str
    label: str
    groups: list[Group] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return "topic-" + anchor(self.category)


@dataclass


class Catalogue:
    articles: dict[str, Article]
    sections: dict[str, list[Section]]  # lang -> sections in taxonomy order
    descriptions: dict[str, str]        # reason -> taxonomy description (English)

    def counterpart(self, article: Article, lang: str) -> Article | None:
        """The same entry in `lang`, by the KB's `<name>-<lang>` id convention (if it exists)."""
        suffix = f"-{article.lang}"
        if lang == article.lang or not article.id.endswith(suffix):
            return None
        other = self.articles.get(article.id[: -len(suffix)] + f"-{lang}")
        return other if other is not None and other.lang == lang else None

    def group_of(self, article: Article) -> Group | None:
        for section in self.sections.get(article.lang, []):
            for group in section.groups:
                if group.reason == article.reason:
                    return group
        return None

    def related(self, article: Article, limit: int = 5) -> list[Article]:
        """Other entries of the same reason, then of the same topic, in the same language."""
        same = [a for a in self._in_lang(article.lang) if a.reason == article.reason and a.id != article.id]
        if len(same) < 3:
            same += [a for a in self._in_lang(article.lang)
                     if a.category == article.category and a.reason != article.reason]
        return same[:limit]

    def _in_lang(self, lang: str) -> list[Article]:
        return [a for s in self.sections.get(lang, []) for g in s.groups for a in g.articles]


def build_catalogue(entries: list[Entry], taxonomy: list[tuple[str, str]]) -> Catalogue:
    articles = {e.id: Article(e.id, e.lang, e.reason, e.title, e.answer) for e in entries}
    order = [reason for reason, _ in taxonomy]
    descriptions = dict(taxonomy)
    rank = {reason: i for i, reason in enumerate(order)}
    # reasons the taxonomy does not list (a KB without taxonomy.yml): after, alphabetically
    extra = sorted({a.reason for a in articles.values()} - set(rank))
    for reason in extra:
        rank[reason] = len(rank)
    sections: dict[str, list[Section]] = {}
    for lang in sorted({a.lang for a in articles.values()}):
        by_reason: dict[str, list[Article]] = {}
        for a in articles.values():
            if a.lang == lang:
                by_reason.setdefault(a.reason, []).append(a)
        lang_sections: dict[str, Section] = {}
        for reason in sorted(by_reason, key=rank.__getitem__):
            category = reason.split("/", 1)[0]
            section = lang_sections.get(category)
            if section is None:
                section = lang_sections[category] = Section(category, label(category, lang))
            group = Group(reason, label(reason, lang), descriptions.get(reason, ""))
            group.articles = sorted(by_reason[reason], key=lambda a: sort_key(a.title))
            section.groups.append(group)
        sections[lang] = list(lang_sections.values())
    return Catalogue(articles, sections, descriptions)


_cache_lock = threading.Lock()
_cache: dict[tuple[int, str, tuple[tuple[str, str], ...]], tuple[SearchEngine, Catalogue]] = {}


def catalogue(service: FaqSource) -> Catalogue:
    """The catalogue of the engine now serving; rebuilt only when the engine or taxonomy change."""
    engine = service.engine
    taxonomy = service.taxonomy()
    key = (id(engine), engine.version, tuple(taxonomy))
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] is engine:
            return hit[1]
    built = build_catalogue(service.entries(), taxonomy)
    with _cache_lock:
        _cache.clear()  # one engine serves at a time: keep only its catalogue
        _cache[key] = (engine, built)
    return built


