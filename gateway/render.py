"""Markdown -> HTML that is safe to put in a page: FAQ answers written by editors, bot texts.

markdown-it renders with raw HTML disabled, then nh3 (ammonia) keeps only formatting tags and
http(s)/mailto/tel links; every link opens in a new tab without an opener. Shoppers' and
agents' own messages are never rendered: pages show them as text.
"""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

TAGS = {"p", "br", "strong", "em", "b", "i", "ul", "ol", "li", "a", "code", "blockquote", "h3", "h4"}
ATTRIBUTES = {"a": {"href", "title", "target"}}
SCHEMES = {"http", "https", "mailto", "tel"}


@lru_cache(maxsize=1)
def _md() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.validateLink = lambda url: url.strip().lower().split(":", 1)[0] in SCHEMES or ":" not in url
    return md


@lru_cache(maxsize=2048)
def markdown_html(text: str) -> str:
    """Sanitised HTML for a markdown text (cached: FAQ answers repeat all day)."""
    html = _md().render(text or "")
    return nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, url_schemes=SCHEMES,
                     link_rel="noopener noreferrer nofollow",
                     set_tag_attribute_values={"a": {"target": "_blank"}}).strip()
