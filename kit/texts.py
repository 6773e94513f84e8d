"""Every shopper, agent and manager text, in French and English, out of the code.

`locales/fr.yml` and `locales/en.yml` hold nested sections (`bot.closed`, `console.queue`...);
`text()` reads one by its dotted key, `section()` hands a whole section to a page's script.
French is the default: a language we do not speak falls back to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

LOCALES = Path(__file__).resolve().parent.parent / "locales"
LANGS = ("fr", "en")
DEFAULT_LANG = "fr"


def norm_lang(lang: str | None) -> str:
    """"en", "en-GB", "EN" -> "en"; anything else -> "fr" (the shop's first language)."""
    return "en" if str(lang or "").strip().lower()[:2] == "en" else DEFAULT_LANG


def _flatten(node: Any, prefix: str, out: dict[str, str], path: Path) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            _flatten(value, f"{prefix}{key}.", out, path)
    elif isinstance(node, str):
        out[prefix[:-1]] = node
    else:
        raise ValueError(f"{path}: {prefix[:-1]!r} must be a text or a section, not {type(node).__name__}")


# libyaml when PyYAML has it: the pure-Python parser took ~0.4 s per language, paid by the first
# shopper of each language after a start (8 ms per turn of bench.turn_cost's 100)
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def catalogue(lang: str) -> dict[str, str]:
    """All texts of a language, by dotted key (read once per process: `preload` at a start)."""
    path = LOCALES / f"{norm_lang(lang)}.yml"
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader) or {}  # noqa: S506 (a safe loader)
    out: dict[str, str] = {}
    _flatten(data, "", out, path)
    return out


def preload() -> None:
    """Reads every language now, so no request pays for it."""
    for lang in LANGS:
        catalogue(lang)


def text(lang: str | None, key: str, **fields: Any) -> str:
    """One text, its `{placeholders}` filled; a missing key is a bug (KeyError)."""
    value = catalogue(norm_lang(lang))[key]
    return value.format(**fields) if fields else value


def section(lang: str | None, prefix: str) -> dict[str, str]:
    """The texts under `prefix.`, keyed by the rest of their key (for a page or its script)."""
    return dict(_section(norm_lang(lang), prefix))


@cache
def _section(lang: str, prefix: str) -> Mapping[str, str]:
    start = prefix + "."
    return MappingProxyType({k[len(start):]: v for k, v in catalogue(lang).items() if k.startswith(start)})
