"""The one Jinja environment of the server-rendered pages (help centre, survey page).

Templates live in gateway/templates/, outside the static folder, so they are never served
as files. Every template is autoescaped, whatever its extension, and a missing value is an
error rather than an empty string."""

from __future__ import annotations

from pathlib import Path

import jinja2

TEMPLATES = Path(__file__).resolve().parent / "templates"

env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(template: str, **values: object) -> str:
    return env.get_template(template).render(**values)
