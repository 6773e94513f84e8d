"""An FAQ entry as the studio edits it: its markdown file stays the source of truth, so git,
reviews and `retrieval check` keep working on what the studio writes.

The front matter goes through ruamel.yaml's round trip: key order, comments, quotes and
indentation stay as the editor (or a developer) wrote them, and only the fields that changed
are rewritten. A draft equal to the file gives the file back byte for byte. A file's `version`
is the digest of its bytes: a save names the version it started from, so two editors on the
same entry cannot overwrite each other silently.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.util import load_yaml_guess_indent

FIELDS = ("id", "lang", "reason", "title", "questions", "tags", "variants")   # the canonical order


@dataclass
class EntryDraft:
    """What the studio's form holds for one entry."""

    id: str
    lang: str
    reason: str
    questions: list[str]
    answer: str
    title: str = ""
    tags: list[str] = field(default_factory=list)
    variants: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class EntryFileError(ValueError):
    """The file cannot be edited as an entry (no front matter, YAML that is not a mapping)."""


def version_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


def _yaml(front: str) -> tuple[YAML, Any]:
    """A round-trip YAML set to the file's own indentation, and the front matter it loaded."""
    try:
        _, indent, offset = load_yaml_guess_indent(front)
    except YAMLError:
        indent, offset = 4, 2
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096                      # never fold a long question or title
    yaml.indent(mapping=2, sequence=indent or 4, offset=2 if offset is None else offset)
    try:
        data = yaml.load(front) if front.strip() else CommentedMap()
    except YAMLError as exc:
        raise EntryFileError(f"invalid YAML in front matter: {exc}") from exc
    if not isinstance(data, CommentedMap):
        raise EntryFileError("the front matter is not a mapping of fields")
    return yaml, data


def _split(text: str) -> tuple[str, str]:
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise EntryFileError("missing front matter (the file must start with '---')")
    for i in range(1, len(lines)):
        if lines[i].strip() == "---":
            return "".join(lines[1:i]), "".join(lines[i + 1:])
    raise EntryFileError("front matter not closed by a '---' line")


def _texts(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value] if isinstance(value, list) else []


def read_draft(text: str) -> EntryDraft:
    """The form's fields from a file's text (EntryFileError when it is not an entry at all)."""
    front, body = _split(text)
    _, data = _yaml(front)
    variants = data.get("variants") or {}
    return EntryDraft(
        id=str(data.get("id") or ""), lang=str(data.get("lang") or ""), reason=str(data.get("reason") or ""),
        questions=_texts(data.get("questions")), answer=body.strip(), title=str(data.get("title") or ""),
        tags=_texts(data.get("tags")),
        variants={str(k): str(v) for k, v in variants.items()} if isinstance(variants, dict) else {})


def _seq(values: list[str], like: Any) -> CommentedSeq:
    seq = CommentedSeq(values)
    if isinstance(like, CommentedSeq) and like.fa.flow_style():
        seq.fa.set_flow_style()           # `tags: [a, b]` stays on one line
    return seq


def _set(data: CommentedMap, key: str, value: Any) -> None:
    """Set `key`, new keys at their canonical place (after the fields that come before it)."""
    if key in data:
        data[key] = value
        return
    before = FIELDS[:FIELDS.index(key)]
    position = max((i + 1 for i, k in enumerate(data) if k in before), default=0)
    data.insert(position, key, value)


def render(draft: EntryDraft, original: str | None = None) -> str:
    """The file for `draft`: the original with only what changed rewritten, or a new file."""
    if original is not None and read_draft(original) == draft:
        return original
    front, body = _split(original) if original is not None else ("", "")
    yaml, data = _yaml(front)
    current = read_draft(original) if original is not None else None
    for key in ("id", "lang", "reason"):
        if current is None or getattr(current, key) != getattr(draft, key):
            _set(data, key, getattr(draft, key))
    if current is None or current.title != draft.title:
        if draft.title:
            _set(data, "title", draft.title)
        else:
            data.pop("title", None)
    for key in ("questions", "tags"):
        values = getattr(draft, key)
        if current is not None and getattr(current, key) == values:
            continue
        if values or key == "questions":
            _set(data, key, _seq(values, data.get(key)))
        else:
            data.pop(key, None)
    if current is None or current.variants != draft.variants:
        if draft.variants:
            _set(data, "variants", CommentedMap(draft.variants))
        else:
            data.pop("variants", None)
    out = io.StringIO()
    yaml.dump(data, out)
    if current is not None and current.answer == draft.answer:
        answer_part = body                 # blank lines and trailing newline as they were
    else:
        answer_part = draft.answer.strip() + "\n"
    return f"---\n{out.getvalue()}---\n{answer_part}"


def write_atomically(path: Path, text: str) -> None:
    """Readers (the gateway's watcher, git) see the old file or the new one, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
