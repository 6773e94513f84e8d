"""The KB's problems carry a stable code and the values they name (issue 22's studio shows them in
the editor's language): every code the checks can emit has a French and an English text in the
locales (`studio.check.<code>`) whose placeholders are the problem's params, and the English
message (`python -m retrieval check`'s) stays what it was."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest

from editor import studio
from kit.texts import section
from retrieval import kb
from retrieval.kb import MESSAGES, SUPPORTED_LANGS, parse_entry
from retrieval.lint import near_duplicates

from .helpers import entry_md

REPO = Path(__file__).resolve().parents[2]
SOURCES = {"retrieval/kb.py": {"problem": 2, "err": 1}, "retrieval/lint.py": {"problem": 2},
           "editor/studio.py": {"of": 1}}
TABLE = {**MESSAGES, **studio.MESSAGES}
TAXONOMY = frozenset({"delivery/tracking", "returns/process"})


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def emitted_codes() -> set[str]:
    """The codes given to `problem(...)`, parse_entry's `err(...)` and `Issue.of(...)`, read from
    the source: a check added without a code of the table fails here, not in front of an editor."""
    found: set[str] = set()
    for rel, calls in SOURCES.items():
        for node in ast.walk(ast.parse((REPO / rel).read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            position = calls.get(name)
            if position is None or len(node.args) <= position:
                continue
            code = node.args[position]
            if isinstance(code, ast.Name) and code.id == "code":
                continue                                     # err(...) handing its own code on
            assert isinstance(code, ast.Constant) and isinstance(code.value, str), (rel, ast.unparse(node))
            found.add(code.value)
    return found


def test_every_code_emitted_is_in_the_tables() -> None:
    emitted = emitted_codes()
    assert len(emitted) >= 25, emitted
    assert emitted - set(TABLE) == set()
    assert set(TABLE) - emitted == set(), "a code nobody emits"
    assert not set(MESSAGES) & set(studio.MESSAGES)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_every_code_has_its_text_in_both_languages(lang: str) -> None:
    texts = section(lang, "studio")
    missing = [code for code in TABLE if not texts.get(f"check.{code}", "").strip()]
    assert missing == [], (lang, missing)
    for code, english in TABLE.items():
        # a translation names only what the problem carries
        assert _fields(texts[f"check.{code}"]) <= {f.split("!")[0] for f in _fields(english)}, (lang, code)
    assert section("fr", "studio")["check.empty_answer"] != section("en", "studio")["check.empty_answer"]


BROKEN = {
    "missing_front_matter": "How do I return?\n",
    "invalid_yaml": "---\nid: x\nreason: a: b\n---\nA.\n",
    "not_mapping": "---\n- a\n- b\n---\nA.\n",
    "unknown_field": entry_md("x-en", questions=("Q?",), reason="returns/process").replace(
        "lang: en", "lang: en\ncolour: red"),
    "missing_field": "---\nid: x-en\nlang: en\nreason: returns/process\n---\nAnswer.\n",
    "bad_id": entry_md("x-en", questions=("Q?",), reason="returns/process").replace("id: x-en", "id: X EN"),
    "bad_lang": entry_md("x-en", questions=("Q?",), reason="returns/process").replace("lang: en", "lang: de"),
    "unknown_reason": entry_md("x-en", questions=("Q?",), reason="returns/nope"),
    "empty_answer": "---\nid: x-en\nlang: en\nreason: returns/process\nquestions:\n  - Q?\n---\n\n",
    "bad_variant_names": entry_md("x-en", questions=("Q?",), reason="returns/process").replace(
        "lang: en", "lang: en\nvariants:\n  default: other text"),
}


@pytest.mark.parametrize("code", sorted(BROKEN))
def test_parse_entry_gives_the_code_and_the_same_english(code: str) -> None:
    entry, problems = parse_entry(Path("kb/x.md"), BROKEN[code], TAXONOMY, SUPPORTED_LANGS)
    assert entry is None
    found = {p.code: p for p in problems}
    assert code in found, [(p.code, p.message) for p in problems]
    problem = found[code]
    assert set(problem.params) == {f.split("!")[0] for f in _fields(MESSAGES[code])}
    assert problem.message and "{" not in problem.message
    assert all(isinstance(v, str) for v in problem.params.values())
    assert str(problem).startswith(f"kb/x.md:{problem.line}: error: ")


def test_messages_stay_the_cli_s() -> None:
    """The English texts did not change with the codes (what `python -m retrieval check` prints)."""
    _, problems = parse_entry(Path("kb/x.md"), BROKEN["missing_field"], TAXONOMY, SUPPORTED_LANGS)
    assert [(p.message, p.code, p.params) for p in problems] == [
        ("missing required field 'questions'", "missing_field", {"field": "questions"})]
    _, problems = parse_entry(Path("kb/x.md"), BROKEN["bad_id"], TAXONOMY, SUPPORTED_LANGS)
    assert problems[0].message == "invalid id 'X EN': use lowercase letters, digits and dashes"
    assert problems[0].params == {"value": "X EN"}
    _, problems = parse_entry(Path("kb/x.md"), BROKEN["bad_variant_names"], TAXONOMY, SUPPORTED_LANGS)
    assert problems[0].message.endswith("the answer below the front matter): ['default']")
    assert problems[0].params == {"names": "default"}
    legacy = kb.Problem("a.md", 3, "made elsewhere")               # callers without a code still work
    assert (legacy.code, legacy.params, str(legacy)) == ("", {}, "a.md:3: error: made elsewhere")


def test_near_duplicates_name_both_entries() -> None:
    a, _ = parse_entry(Path("a.md"), entry_md("a-en", questions=("Where is my parcel now?",),
                                              reason="delivery/tracking"), TAXONOMY, SUPPORTED_LANGS)
    b, _ = parse_entry(Path("b.md"), entry_md("b-en", questions=("where is my parcel now?",),
                                              reason="delivery/tracking"), TAXONOMY, SUPPORTED_LANGS)
    assert a is not None and b is not None
    found = near_duplicates(kb.KnowledgeBase(root="", entries=(a, b), taxonomy=None, content_hash=""))
    assert [(w.code, w.severity, w.params["entry"], w.params["other_entry"]) for w in found] == [
        ("near_duplicate", "warning", "a-en", "b-en")]
    assert found[0].message == ("question 'Where is my parcel now?' of 'a-en' is nearly the same as "
                                "'where is my parcel now?' of 'b-en' (b.md): the bot cannot tell them apart, "
                                "keep it in one entry")
