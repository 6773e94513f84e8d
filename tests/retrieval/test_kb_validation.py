"""KB validation: every problem as file + exact line, all at once (the KB file format).

No embedding model here: `load_kb` and `python -m retrieval check` only.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.kb import KBError, load_kb

from .helpers import KB_SMALL, entry_md, run_cli, write_kb

TAXONOMY = "delivery:\n  tracking: Where is my parcel\nreturns:\n  process: How to return\n"
GOOD = entry_md("good-entry", questions=("Where is my parcel?", "Track my order"),
                reason="delivery/tracking", answer="Use the tracking link.")


def problems(root: Path) -> list[tuple[str, int, str]]:
    """(path relative to root, line, message) of every problem; fails if the KB loads."""
    with pytest.raises(KBError) as info:
        load_kb(root)
    return [(Path(p.path).relative_to(root).as_posix(), p.line, p.message)
            for p in info.value.problems]


def only_problem(root: Path) -> tuple[str, int, str]:
    found = problems(root)
    assert len(found) == 1, found
    return found[0]


# -- one message per kind of mistake ------------------------------------------------------------
def test_missing_front_matter(tmp_path: Path) -> None:
    write_kb(tmp_path, {"ok.md": GOOD, "en/plain.md": "How do I return an item?\n\nJust send it.\n"},
             TAXONOMY)
    path, line, message = only_problem(tmp_path)
    assert (path, line) == ("en/plain.md", 1)
    assert "front matter" in message


def test_unclosed_front_matter_is_missing_front_matter(tmp_path: Path) -> None:
    write_kb(tmp_path, {"ok.md": GOOD, "open.md": "---\nid: open\nlang: en\n\nAnswer\n"}, TAXONOMY)
    assert only_problem(tmp_path)[:2] == ("open.md", 1)


def test_invalid_yaml_reports_the_line_of_the_yaml_error(tmp_path: Path) -> None:
    text = ("---\n"                                   # 1
            "id: bad-yaml\n"                          # 2
            "lang: en\n"                              # 3
            "reason: returns/process: oops\n"         # 4  <- "mapping values are not allowed"
            "questions:\n  - How do I return?\n---\nAnswer.\n")
    write_kb(tmp_path, {"ok.md": GOOD, "en/bad.md": text}, TAXONOMY)
    path, line, message = only_problem(tmp_path)
    assert (path, line) == ("en/bad.md", 4)
    assert "YAML" in message


def test_missing_required_field_points_at_the_closing_marker(tmp_path: Path) -> None:
    text = "---\nid: no-reason\nlang: en\nquestions:\n  - How do I return?\n---\nAnswer.\n"
    write_kb(tmp_path, {"ok.md": GOOD, "no-reason.md": text}, TAXONOMY)
    path, line, message = only_problem(tmp_path)
    assert (path, line) == ("no-reason.md", 6)  # where the field has to be added
    assert "missing required field 'reason'" in message


@pytest.mark.parametrize("field", ["id", "lang", "reason", "questions"])
def test_each_required_field_is_required(tmp_path: Path, field: str) -> None:
    lines = entry_md("some-entry").splitlines(keepends=True)
    start = next(i for i, ln in enumerate(lines) if ln.startswith(f"{field}:"))
    end = start + 1
    while end < len(lines) and lines[end].startswith("  - "):
        end += 1
    write_kb(tmp_path, {"ok.md": GOOD, "e.md": "".join(lines[:start] + lines[end:])}, TAXONOMY)
    path, _, message = only_problem(tmp_path)
    assert path == "e.md"
    assert f"missing required field '{field}'" in message


def test_unknown_field_reports_the_line_of_that_key(tmp_path: Path) -> None:
    text = entry_md("with-colour", extra="colour: red\n")  # line 8, after the 2 questions
    write_kb(tmp_path, {"ok.md": GOOD, "c.md": text}, TAXONOMY)
    path, line, message = only_problem(tmp_path)
    assert (path, line) == ("c.md", 8)
    assert text.splitlines()[line - 1] == "colour: red"
    assert "unknown field 'colour'" in message


@pytest.mark.parametrize("yaml_value", [
    "Return_FR", "retour fr", "-retour", "retour-", "retour--fr", "été", "42",
    pytest.param('"retour-fr\\n"', id="trailing-newline"),  # a quoted YAML string ending in "\n"
])
def test_invalid_id_reports_the_line_of_id(tmp_path: Path, yaml_value: str) -> None:
    text = entry_md("x").replace("id: x\n", f"id: {yaml_value}\n")
    write_kb(tmp_path, {"ok.md": GOOD, "bad-id.md": text}, TAXONOMY)
    path, line, message = only_problem(tmp_path)
    assert (path, line) == ("bad-id.md", 2)
    assert "invalid id" in message


def test_invalid_lang_reports_the_line_of_lang(tmp_path: Path) -> None:
    text = ("---\nid: german\nreason: returns/process\n"
            "lang: de\n"                                   # line 4
            "questions:\n  - Wie sende ich zurück?\n---\nAntwort.\n")
    write_kb(tmp_path, {"ok.md": GOOD, "de.md": text}, TAXONOMY)
    path, line, message = only_problem(tmp_path)
    assert (path, line) == ("de.md", 4)
    assert "invalid lang 'de'" in message


def test_duplicate_ids_across_files_name_both_files(tmp_path: Path) -> None:
    write_kb(tmp_path, {
        "ok.md": GOOD,
        "en/returns.md": entry_md("return-policy"),
        "fr/retours.md": entry_md("return-policy", lang="fr", questions=("Comment retourner ?",)),
    }, TAXONOMY)
    with pytest.raises(KBError) as info:
        load_kb(tmp_path)
    (problem,) = info.value.problems
    text = str(problem)
    assert str(tmp_path / "en" / "returns.md") in text
    assert str(tmp_path / "fr" / "retours.md") in text
    assert "duplicate id 'return-policy'" in problem.message
    assert problem.line == 2  # the `id:` line of the file reported


def test_empty_answer_reports_the_first_body_line(tmp_path: Path) -> None:
    text = entry_md("no-answer", answer="")  # closing --- on line 8, body from line 9
    write_kb(tmp_path, {"ok.md": GOOD, "empty.md": text + "   \n\n"}, TAXONOMY)
    path, line, message = only_problem(tmp_path)
    assert (path, line) == ("empty.md", 9)
    assert "empty answer" in message


@pytest.mark.parametrize("reason", ["returns/refund", "returns", "Returns/Process"])
def test_reason_not_a_taxonomy_leaf_reports_the_line_of_reason(tmp_path: Path, reason: str) -> None:
    text = ("---\nid: bad-reason\nlang: en\nquestions:\n  - How do I return?\n"
            f"reason: {reason}\n"                          # line 6
            "---\nAnswer.\n")
    write_kb(tmp_path, {"ok.md": GOOD, "r.md": text}, TAXONOMY)
    path, line, message = only_problem(tmp_path)
    assert (path, line) == ("r.md", 6)
    assert f"reason '{reason}'" in message and "taxonomy.yml" in message


@pytest.mark.parametrize("value", ["\n  first: How do I return?\n", " {a: b}\n",
                                   "\n  - q: How do I return?\n"])
def test_questions_not_a_list_of_texts(tmp_path: Path, value: str) -> None:
    text = f"---\nid: bad-questions\nlang: en\nreason: returns/process\nquestions:{value}---\nAnswer.\n"
    write_kb(tmp_path, {"ok.md": GOOD, "q.md": text}, TAXONOMY)
    path, line, message = only_problem(tmp_path)
    assert (path, line) == ("q.md", 5)
    assert "questions must be a list" in message


@pytest.mark.parametrize(("extra", "field", "expected"), [
    ("tags: {a: b}\n", "tags", "tags must be a list"),
    ("title: [a, b]\n", "title", "title must be text"),
    ('variants:\n  b: ""\n', "variants", "variants must map"),
])
def test_invalid_optional_field_reports_its_line(tmp_path: Path, extra: str, field: str,
                                                 expected: str) -> None:
    text = entry_md("optional", extra=extra)  # the extra field starts on line 8
    write_kb(tmp_path, {"ok.md": GOOD, "o.md": text}, TAXONOMY)
    path, line, message = only_problem(tmp_path)
    assert (path, line) == ("o.md", 8)
    assert text.splitlines()[line - 1].startswith(f"{field}:")
    assert expected in message


@pytest.mark.parametrize("front", ["- id: a-list\n", "just text\n"])
def test_front_matter_that_is_not_a_mapping(tmp_path: Path, front: str) -> None:
    write_kb(tmp_path, {"ok.md": GOOD, "m.md": f"---\n{front}---\nAnswer.\n"}, TAXONOMY)
    path, line, message = only_problem(tmp_path)
    assert (path, line) == ("m.md", 2)
    assert "mapping" in message


def test_non_utf8_file(tmp_path: Path) -> None:
    latin1 = entry_md("latin", lang="fr", questions=("Où est mon colis ?",),
                      answer="Réponse en Latin-1.").encode("latin-1")
    write_kb(tmp_path, {"ok.md": GOOD, "fr/latin.md": latin1}, TAXONOMY)
    path, line, message = only_problem(tmp_path)
    assert path == "fr/latin.md"
    assert line in (1, 6)  # the file as a whole, or the first line with a bad byte
    assert "UTF-8" in message


# -- several problems, one run ------------------------------------------------------------------
def test_all_errors_of_all_files_are_reported_at_once(tmp_path: Path) -> None:
    write_kb(tmp_path, {
        "ok.md": GOOD,
        "a/plain.md": "no front matter\n",
        "a/b/lang.md": entry_md("lang-es", lang="es"),
        "c/two.md": entry_md("Two_Errors", reason="nowhere/else"),
        "d/latin.md": entry_md("latin", answer="Réponse").encode("latin-1"),
        "d/empty.md": entry_md("empty-one", answer=""),
    }, TAXONOMY)
    found = problems(tmp_path)
    assert len(found) == 6, found
    assert {(path, line) for path, line, _ in found} == {
        ("a/plain.md", 1), ("a/b/lang.md", 3), ("c/two.md", 2), ("c/two.md", 4), ("d/empty.md", 9),
        ("d/latin.md", next(line for path, line, _ in found if path == "d/latin.md"))}


# -- what is accepted ---------------------------------------------------------------------------
def test_without_taxonomy_any_reason_is_accepted(tmp_path: Path) -> None:
    write_kb(tmp_path, {"a.md": entry_md("a-entry", reason="anything goes"),
                        "b.md": entry_md("b-entry", reason="Billing / Weird?", questions=("Invoice?",))})
    kb = load_kb(tmp_path)
    assert kb.taxonomy is None
    assert {e.reason for e in kb.entries} == {"anything goes", "Billing / Weird?"}


def test_fixture_kb_loads_with_its_taxonomy() -> None:
    kb = load_kb(KB_SMALL)
    assert len(kb.entries) == 8
    assert kb.langs == ["en", "fr"]
    assert {e.reason for e in kb.entries} <= set(kb.taxonomy)


def test_windows_line_endings_are_accepted(tmp_path: Path) -> None:
    write_kb(tmp_path, {"crlf.md": entry_md("crlf-entry").replace("\n", "\r\n")}, TAXONOMY)
    (entry,) = load_kb(tmp_path).entries
    assert entry.id == "crlf-entry"
    assert entry.questions == ("How do I return an item?", "Can I send it back?")
    assert "\r" not in entry.answer


def test_utf8_file_with_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    """Windows editors (Notepad, Excel exports) save UTF-8 with a BOM: still valid UTF-8."""
    write_kb(tmp_path, {"bom.md": "\ufeff" + entry_md("bom-entry")}, TAXONOMY)
    (entry,) = load_kb(tmp_path).entries
    assert entry.id == "bom-entry"


# -- python -m retrieval check ------------------------------------------------------------------
def test_check_cli_fails_with_file_line_messages(tmp_path: Path, cli: dict[str, str]) -> None:
    kb = write_kb(tmp_path / "kb", {
        "ok.md": GOOD,
        "en/lang.md": entry_md("lang-es", lang="es"),
        "en/reason.md": entry_md("bad-reason", reason="returns/nope"),
    }, TAXONOMY)
    proc = run_cli(["check", "--kb", str(kb)], cli)
    assert proc.returncode == 1, proc.stderr
    assert f"{kb / 'en' / 'lang.md'}:3:" in proc.stderr
    assert f"{kb / 'en' / 'reason.md'}:4:" in proc.stderr
    assert "OK" not in proc.stdout


def test_check_cli_succeeds_with_a_summary(cli: dict[str, str]) -> None:
    proc = run_cli(["check", "--kb", str(KB_SMALL)], cli)
    assert proc.returncode == 0, proc.stderr
    assert "8 entries" in proc.stdout
    assert "0 warning" in proc.stdout


def test_check_cli_warns_about_near_identical_questions(tmp_path: Path, cli: dict[str, str]) -> None:
    kb = write_kb(tmp_path / "kb", {
        "fr/suivi.md": entry_md("suivi-colis", lang="fr", reason="delivery/tracking",
                                questions=("Où est mon colis ?", "Suivre ma livraison")),
        "fr/retard.md": entry_md("colis-en-retard", lang="fr", reason="delivery/tracking",
                                 questions=("Ou est mon colis", "Mon colis est en retard")),
        "en/track.md": entry_md("track-en", reason="delivery/tracking",
                                questions=("Where is my parcel?", "Track my order")),
    }, TAXONOMY)
    proc = run_cli(["check", "--kb", str(kb)], cli)
    assert proc.returncode == 0, proc.stderr  # a warning is not an error
    assert "1 warning" in proc.stdout
    warning = next(ln for ln in proc.stderr.splitlines() if "warning" in ln)
    assert "suivi-colis" in warning and "colis-en-retard" in warning
    assert str(kb / "fr") in warning
