"""Load and validate a knowledge-base folder (the format in README's "For FAQ editors").

Editors are not developers: every problem is reported as ``file:line: message``
and *all* problems are collected before failing, so one `check` run lists
everything to fix. A KB with any error is never returned half-loaded.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SUPPORTED_LANGS = ("fr", "en")
REQUIRED_FIELDS = ("id", "lang", "reason", "questions")
OPTIONAL_FIELDS = ("title", "tags", "variants")
ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
TAXONOMY_FILE = "taxonomy.yml"


@dataclass(frozen=True)
class Entry:
    """One FAQ entry: the unit the engine retrieves and the bot answers with."""

    id: str
    lang: str
    reason: str
    questions: tuple[str, ...]
    answer: str
    title: str
    tags: tuple[str, ...] = ()
    variants: dict[str, str] = field(default_factory=dict)
    path: str = ""


# Every problem's code and its English text (what `python -m retrieval check` prints). The studio
# shows the editor's language instead: locales `studio.check.<code>`, with the problem's params.
MESSAGES: dict[str, str] = {
    "kb_missing": "KB folder does not exist",
    "kb_empty": "no .md entries found in the KB folder",
    "taxonomy_invalid_yaml": "invalid YAML: {detail}",
    "taxonomy_not_utf8": "not valid UTF-8",
    "taxonomy_empty": "taxonomy has no contact reasons",
    "not_utf8": "not valid UTF-8 ({detail})",
    "missing_front_matter": "missing YAML front matter: the file must start with a '---' line, then the "
                            "fields, then a closing '---' line",
    "invalid_yaml": "invalid YAML in front matter: {detail}",
    "not_mapping": "front matter must be a mapping of fields (id, lang, ...)",
    "unknown_field": "unknown field '{field}' (allowed: {allowed})",
    "missing_field": "missing required field '{field}'",
    "bad_id": "invalid id {value!r}: use lowercase letters, digits and dashes",
    "bad_lang": "invalid lang {value!r} (supported: {supported})",
    "reason_not_text": "reason must be text such as 'returns/process'",
    "unknown_reason": "reason '{reason}' is not a leaf of {file}",
    "questions_not_list": "questions must be a list of texts",
    "empty_question": "questions must not contain empty items",
    "tags_not_list": "tags must be a list of words",
    "title_not_text": "title must be text",
    "bad_variants": "variants must map a variant name to a non-empty answer text",
    "bad_variant_names": "variant names must be short ids like 'short' or 'b' (not 'default', which is "
                         "the answer below the front matter): {names}",
    "empty_answer": "empty answer: write the answer below the front matter",
    "duplicate_id": "duplicate id '{id}' (also used by {other_path})",
    "near_duplicate": "question {question!r} of '{entry}' is nearly the same as {other_question!r} of "
                      "'{other_entry}' ({other_path}): the bot cannot tell them apart, keep it in one entry",
}


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    message: str                          # English (the CLI's)
    severity: str = "error"
    code: str = ""                        # a key of MESSAGES ("" for a problem made elsewhere)
    params: dict[str, str] = field(default_factory=dict, hash=False)   # what the message names

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.severity}: {self.message}"


def _param(value: Any) -> str:
    return ", ".join(str(v) for v in value) if isinstance(value, list | tuple) else str(value)


def problem(path: str | Path, line: int, code: str, severity: str = "error", **params: Any) -> Problem:
    """A problem by its code (KeyError for an unknown one): the English message from MESSAGES,
    the params as texts for the studio's translations."""
    return Problem(str(path), line, MESSAGES[code].format(**params), severity, code,
                   {k: _param(v) for k, v in params.items()})


class KBError(Exception):
    """Raised when a KB folder has errors; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class KnowledgeBase:
    root: str
    entries: tuple[Entry, ...]
    taxonomy: frozenset[str] | None
    content_hash: str

    @property
    def langs(self) -> list[str]:
        return sorted({e.lang for e in self.entries})


def _taxonomy_leaves(node: Any, prefix: str = "") -> list[tuple[str, str]]:
    """(path, description) of each leaf of a nested mapping, in file order; a leaf is a key
    whose value is text (its description), null or empty, or an item of a list."""
    leaves: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{prefix}/{key}" if prefix else str(key)
            if isinstance(value, dict | list) and value:
                leaves += _taxonomy_leaves(value, path)
            else:
                leaves.append((path, value.strip() if isinstance(value, str) else ""))
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, dict | list):
                leaves += _taxonomy_leaves(item, prefix)
            else:
                leaves.append((f"{prefix}/{item}" if prefix else str(item), ""))
    return leaves


def taxonomy_order(root: Path) -> list[tuple[str, str]]:
    """The contact reasons (path, description) in the order the editors wrote them (the help
    centre's sections follow it); [] without a valid taxonomy.yml."""
    ordered, problems = _read_taxonomy(Path(root))
    return [] if problems else ordered


def load_taxonomy(root: Path) -> tuple[frozenset[str] | None, list[Problem]]:
    """The taxonomy's reasons (None without taxonomy.yml) and what is wrong with the file."""
    ordered, problems = _read_taxonomy(Path(root))
    if problems or not (Path(root) / TAXONOMY_FILE).exists():
        return None, problems
    return frozenset(path for path, _ in ordered), []


def _read_taxonomy(root: Path) -> tuple[list[tuple[str, str]], list[Problem]]:
    path = root / TAXONOMY_FILE
    if not path.exists():
        return [], []
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except yaml.YAMLError as exc:
        line = exc.problem_mark.line + 1 if getattr(exc, "problem_mark", None) else 1
        return [], [problem(path, line, "taxonomy_invalid_yaml", detail=exc.problem or exc)]
    except UnicodeDecodeError:
        return [], [problem(path, 1, "taxonomy_not_utf8")]
    leaves = _taxonomy_leaves(data or {})
    if not leaves:
        return [], [problem(path, 1, "taxonomy_empty")]
    return leaves, []


def _split_front_matter(text: str) -> tuple[str, str, int] | None:
    """Return (front matter, body, body's first line number) or None when absent."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return None
    for i in range(1, len(lines)):
        if lines[i].strip() == "---":
            return "".join(lines[1:i]), "".join(lines[i + 1 :]), i + 2
    return None


def _key_lines(front: str) -> dict[str, int]:
    """Line (1-based, in the file) of each top-level key, for precise messages."""
    try:
        node = yaml.compose(front)
    except yaml.YAMLError:
        return {}
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {k.value: k.start_mark.line + 2 for k, _ in node.value}


def _str_list(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return [str(v) for v in value]
    return None


def parse_entry(
    path: Path, text: str, taxonomy: frozenset[str] | None, langs: tuple[str, ...]
) -> tuple[Entry | None, list[Problem]]:
    """Parse one file; returns the entry or the problems that prevent loading it."""
    p = str(path)
    split = _split_front_matter(text)
    if split is None:
        return None, [problem(p, 1, "missing_front_matter")]
    front, body, body_line = split
    try:
        meta = yaml.safe_load(front)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark else 2
        return None, [problem(p, line, "invalid_yaml", detail=getattr(exc, "problem", exc))]
    if not isinstance(meta, dict):
        return None, [problem(p, 2, "not_mapping")]
    lines = _key_lines(front)
    problems: list[Problem] = []

    def err(key: str | None, code: str, **params: Any) -> None:
        problems.append(problem(p, lines.get(key, 1) if key else 1, code, **params))

    for key in meta:
        if key not in REQUIRED_FIELDS + OPTIONAL_FIELDS:
            allowed = ", ".join(REQUIRED_FIELDS + OPTIONAL_FIELDS)
            err(str(key), "unknown_field", field=key, allowed=allowed)
    for key in REQUIRED_FIELDS:
        if key not in meta or meta[key] in (None, "", []):
            problems.append(problem(p, body_line - 1, "missing_field", field=key))

    entry_id = meta.get("id")
    if entry_id is not None and not (isinstance(entry_id, str) and ID_RE.fullmatch(entry_id)):
        err("id", "bad_id", value=entry_id)
    lang = meta.get("lang")
    if lang is not None and lang not in langs:
        err("lang", "bad_lang", value=lang, supported=", ".join(langs))
    reason = meta.get("reason")
    if reason is not None:
        if not isinstance(reason, str):
            err("reason", "reason_not_text")
        elif taxonomy is not None and reason not in taxonomy:
            err("reason", "unknown_reason", reason=reason, file=TAXONOMY_FILE)
    questions = _str_list(meta.get("questions")) if meta.get("questions") is not None else []
    if questions is None:
        err("questions", "questions_not_list")
        questions = []
    elif any(not q.strip() for q in questions):
        err("questions", "empty_question")
    tags = _str_list(meta.get("tags", []) or [])
    if tags is None:
        err("tags", "tags_not_list")
    title = meta.get("title")
    if title is not None and not isinstance(title, str):
        err("title", "title_not_text")
    variants = meta.get("variants") or {}
    if not isinstance(variants, dict) or not all(
        isinstance(v, str) and v.strip() for v in variants.values()
    ):
        err("variants", "bad_variants")
        variants = {}
    bad_names = [str(k) for k in variants if not ID_RE.match(str(k)) or str(k) == "default"]
    if bad_names:
        err("variants", "bad_variant_names", names=bad_names)
        variants = {}
    answer = body.strip()
    if not answer:
        problems.append(problem(p, body_line, "empty_answer"))
    if problems:
        return None, problems
    questions = [q.strip() for q in questions]
    return Entry(
        id=entry_id,
        lang=lang,
        reason=reason,
        questions=tuple(questions),
        answer=answer,
        title=(title or questions[0]).strip(),
        tags=tuple(tags or ()),
        variants={str(k): v.strip() for k, v in variants.items()},
        path=p,
    ), []


def kb_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.md") if p.is_file() and not p.name.startswith("."))


def _defining_files(root: Path) -> list[Path]:
    files = kb_files(root)
    tax = root / TAXONOMY_FILE
    if tax.exists():
        files.append(tax)
    return files


def content_stamp(root: Path) -> tuple[tuple[str, int, int], ...]:
    """Path, modification time and size of every file that defines the KB: a cheap check of
    whether `content_hash` may have changed (a watcher looks every second)."""
    out = []
    for path in _defining_files(root):
        st = path.stat()
        out.append((str(path.relative_to(root)), st.st_mtime_ns, st.st_size))
    return tuple(out)


def content_hash(root: Path) -> str:
    """Hash of everything that defines the KB (paths + bytes of entries and taxonomy)."""
    h = hashlib.sha256()
    for path in _defining_files(root):
        h.update(str(path.relative_to(root)).encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def load_kb(root: str | Path, langs: tuple[str, ...] = SUPPORTED_LANGS) -> KnowledgeBase:
    """Load and validate a KB folder; raise KBError listing every problem."""
    root = Path(root)
    if not root.is_dir():
        raise KBError([problem(root, 0, "kb_missing")])
    taxonomy, problems = load_taxonomy(root)
    files = kb_files(root)
    if not files:
        problems.append(problem(root, 0, "kb_empty"))
    entries: list[Entry] = []
    seen: dict[str, Entry] = {}
    for path in files:
        try:
            text = path.read_text(encoding="utf-8-sig")  # BOM from Windows editors
        except UnicodeDecodeError as exc:
            problems.append(problem(path, 1, "not_utf8", detail=exc.reason))
            continue
        entry, found = parse_entry(path, text, taxonomy, langs)
        problems.extend(found)
        if entry is None:
            continue
        if entry.id in seen:
            line = _key_lines(_split_front_matter(text)[0]).get("id", 1)
            problems.append(problem(path, line, "duplicate_id", id=entry.id, other_path=seen[entry.id].path))
            continue
        seen[entry.id] = entry
        entries.append(entry)
    if problems:
        raise KBError(problems)
    return KnowledgeBase(
        root=str(root),
        entries=tuple(entries),
        taxonomy=taxonomy,
        content_hash=content_hash(root),
    )
