"""The studio's operations on the KB folder: read an entry, check a draft, measure it against
the live index, publish it (atomically, version-checked, with its history), restore a version.

A draft is checked by the same code as `python -m retrieval check` (the file it would write
goes through `parse_entry`, the KB through the duplicate-id and near-duplicate checks), and
every problem is tied to the form's field. "Try it" and the impact table ask a draft index
built in memory from the live KB with the draft applied: the live encoders' vectors are reused
(only the edited texts are encoded) and the live calibration serves it, as a hot reload does.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import os
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from retrieval.engine import SearchEngine, SearchResult
from retrieval.kb import (
    ID_RE,
    SUPPORTED_LANGS,
    Entry,
    KBError,
    KnowledgeBase,
    Problem,
    _key_lines,
    _split_front_matter,
    load_kb,
    parse_entry,
)
from retrieval.lint import near_duplicates
from retrieval.text import fold

if TYPE_CHECKING:
    from retrieval.service import RetrievalService

from .entry_file import EntryDraft, EntryFileError, read_draft, render, version_of, write_atomically
from .history import History, Version

MAX_EVAL_ROWS = 20_000
SEARCH_THREADS = max(1, min(4, os.cpu_count() or 1))
WARM_NICENESS = 10      # the background warm-up's CPU priority (Studio.warm): shoppers first
NEAR_SIMILARITY = 0.3          # character n-gram cosine: a question this close to the edit is asked again


class StudioError(Exception):
    def __init__(self, code: str, message: str, **details: Any):
        super().__init__(message)
        self.code = code                 # not_found | conflict | invalid | worse
        self.details = details


# The studio's own checks (retrieval.kb.MESSAGES has the file's): code -> English text. The page
# shows locales `studio.check.<code>` with the params, the English message when it has no text.
MESSAGES: dict[str, str] = {
    "id_format": "use lowercase letters, digits and dashes (e.g. gift-wrap-fr)",
    "id_changed": "an entry's id cannot change (analytics and links use it)",
    "lang_choice": "choose one of {supported}",
    "id_taken": "the id '{id}' is already used by another entry",
    "no_translation": "no entry answers this contact reason in the other language yet",
}


@dataclass
class Issue:
    """One problem of a draft, with the form field it concerns."""

    field: str                           # id | lang | reason | title | questions | tags | variants | answer
    message: str                         # English; the page shows `code` in the editor's language
    severity: str = "error"
    code: str = ""                       # a key of MESSAGES or retrieval.kb.MESSAGES
    params: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, field_name: str, code: str, severity: str = "error", **params: str) -> Issue:
        return cls(field_name, MESSAGES[code].format(**params), severity, code, params)

    @classmethod
    def of_problem(cls, field_name: str, problem: Problem) -> Issue:
        return cls(field_name, problem.message, problem.severity, problem.code, dict(problem.params))

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "message": self.message, "severity": self.severity, "code": self.code,
                "params": dict(self.params)}


@dataclass
class Opened:
    entry_id: str
    path: str                            # relative to the KB folder
    version: str
    draft: EntryDraft
    text: str


@dataclass
class Impact:
    changed: list[dict[str, Any]] = field(default_factory=list)
    before: dict[str, float] = field(default_factory=dict)
    after: dict[str, float] = field(default_factory=dict)
    asked: int = 0
    reasked: int = 0                     # of them, asked of the draft too (near the edit)
    worse: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"changed": self.changed, "before": self.before, "after": self.after, "asked": self.asked,
                "reasked": self.reasked, "worse": self.worse}


def _entry_key(entry: Entry) -> tuple[Any, ...]:
    """What of an entry its answers depend on (its file path aside)."""
    return (entry.id, entry.lang, entry.reason, entry.title, entry.questions, entry.answer, entry.tags,
            tuple(sorted(entry.variants.items())))


def _field_of(problem: Problem, text: str) -> str:
    """The form field a problem of the rendered file concerns: the top-level key on its line
    (retrieval.kb's own reading of the front matter), or the answer below it."""
    split = _split_front_matter(text)
    if split is None:
        return "id"
    front, _, body_line = split
    if problem.line >= body_line:
        return "answer"
    return {line: key for key, line in _key_lines(front).items()}.get(problem.line, "id")


class Studio:
    def __init__(self, service: RetrievalService, history: History, eval_csv: Path | None = None):
        self.service = service
        self.kb_dir = service.kb_dir
        self.history = history
        self.eval_csv = eval_csv
        self._save_lock = threading.Lock()     # one publication at a time in this process
        self._live_results: tuple[str, dict[tuple[str, str], SearchResult]] | None = None
        self._draft_results: tuple[Any, dict[tuple[str, str], SearchResult]] | None = None
        self._live_lock = threading.Lock()
        self._warmed: str | None = None         # the index version the background warm-up is for
        self.warming: threading.Thread | None = None   # the latest warm-up (the bench waits for it)

    # -- reading ---------------------------------------------------------------------------------

    def kb(self) -> KnowledgeBase:
        return load_kb(self.kb_dir)

    def _path_of(self, entry_id: str) -> Path | None:
        if not ID_RE.fullmatch(entry_id or ""):
            return None
        for entry in self.service.entries():
            if entry.id == entry_id and entry.path:
                path = Path(entry.path)
                if path.resolve().is_relative_to(self.kb_dir.resolve()) and path.is_file():
                    return path
        try:
            for entry in self.kb().entries:
                if entry.id == entry_id:
                    return Path(entry.path)
        except KBError:
            pass
        return None

    def open(self, entry_id: str) -> Opened:
        path = self._path_of(entry_id)
        if path is None:
            raise StudioError("not_found", f"no entry {entry_id!r}")
        data = path.read_bytes()
        text = data.decode("utf-8-sig")
        try:
            draft = read_draft(text)
        except EntryFileError as exc:
            raise StudioError("invalid", f"{path.name}: {exc}") from exc
        return Opened(entry_id, path.relative_to(self.kb_dir).as_posix(), version_of(data), draft, text)

    def unchanged_since(self, entry_id: str, base_version: str) -> Opened:
        """The entry, if its file is still the version the editor started from (else a conflict
        carrying the other editor's text)."""
        current = self.open(entry_id)
        if current.version != base_version:
            raise StudioError("conflict", "someone else published this entry meanwhile",
                              current=current.draft.to_dict(), version=current.version)
        return current

    def new_path(self, draft: EntryDraft) -> Path:
        """Where a new entry goes: `<lang>/<reason's area>/<id>.md`, like the files already there."""
        area = draft.reason.split("/", 1)[0] if draft.reason else "misc"
        if not ID_RE.fullmatch(area):
            area = "misc"
        return self.kb_dir / draft.lang / area / f"{draft.id}.md"

    def conflicts(self) -> set[str]:
        """Entries that share a question with another (retrieval check's near-duplicate warning)."""
        try:
            kb = self.kb()
        except KBError:
            return set()
        found: set[str] = set()
        for warning in near_duplicates(kb):
            found.update((warning.params["entry"], warning.params["other_entry"]))
        return found

    # -- checking --------------------------------------------------------------------------------

    def check(self, draft: EntryDraft, entry_id: str | None) -> tuple[list[Issue], KnowledgeBase | None, str]:
        """The draft's problems (errors block a save, warnings do not), the KB it would make, and
        the file text it would write."""
        issues: list[Issue] = []
        if not ID_RE.fullmatch(draft.id or ""):
            issues.append(Issue.of("id", "id_format"))
            return issues, None, ""
        if entry_id is not None and draft.id != entry_id:
            issues.append(Issue.of("id", "id_changed"))
            return issues, None, ""
        if draft.lang not in SUPPORTED_LANGS:
            issues.append(Issue.of("lang", "lang_choice", supported=", ".join(SUPPORTED_LANGS)))
            return issues, None, ""
        original = self.open(entry_id) if entry_id is not None else None
        path = self.kb_dir / original.path if original is not None else self.new_path(draft)
        text = render(draft, original.text if original is not None else None)
        live = self.kb()
        entry, problems = parse_entry(path, text, live.taxonomy, SUPPORTED_LANGS)
        issues += [Issue.of_problem(_field_of(p, text), p) for p in problems]
        if entry is None:
            return issues, None, text
        others = [e for e in live.entries if original is None or e.path != str(path)]
        if any(e.id == entry.id for e in others):
            issues.append(Issue.of("id", "id_taken", id=entry.id))
            return issues, None, text
        kb = KnowledgeBase(root=live.root, entries=tuple([*others, entry]), taxonomy=live.taxonomy,
                           content_hash=hashlib.sha256((live.content_hash + text).encode()).hexdigest())
        for warning in near_duplicates(kb):
            if entry.id in (warning.params["entry"], warning.params["other_entry"]):
                issues.append(Issue.of_problem("questions", warning))
        other_lang = [e for e in live.entries if e.lang != entry.lang and e.reason == entry.reason]
        if not other_lang:
            issues.append(Issue.of("reason", "no_translation", "warning"))
        return issues, kb, text

    # -- measuring -------------------------------------------------------------------------------

    def draft_engine(self, kb: KnowledgeBase, *, quick: bool = False) -> SearchEngine:
        """The draft's index with the live calibration. `quick` ("try it", while typing): patched
        from the live index, only the changed entries' classifier rows trained, under a second.
        Otherwise (the impact check before publishing) every row is trained, as the published
        index will be: the patch keeps the unchanged entries' rows, trained against the edited
        entry's old questions, and so hides exactly what an impact check is for (an entry that
        loses its questions still wins them in the patched index; tests/gateway/test_editor_api.py)."""
        live = self.service.engine
        if kb.content_hash == live.info.get("kb_hash"):
            return live
        changed = None
        if quick:
            current = {e.id: _entry_key(e) for e in live.index.entries}
            changed = frozenset(e.id for e in kb.entries if current.get(e.id) != _entry_key(e))
        from retrieval.store import provisional_engine  # the engine's builder: not for `import gateway.app`

        engine = provisional_engine(kb, live.embedder, self.service.config, live, self.service.cache_root,
                                    folds=False, changed=changed, reuse=not quick)
        return engine if engine is not None else live

    @staticmethod
    def summary(result: SearchResult) -> dict[str, Any]:
        return {"band": result.band, "score": round(float(result.hits[0].score), 3) if result.hits else 0.0,
                "top": [{"id": h.id, "title": h.title, "score": round(float(h.score), 3)}
                        for h in result.hits[:3]]}

    def try_question(self, kb: KnowledgeBase, question: str, lang: str | None) -> dict[str, Any]:
        draft = self.draft_engine(kb, quick=True).search(question, lang=lang, k=3)
        live = self.service.engine.search(question, lang=lang, k=3)
        return {"draft": self.summary(draft), "live": self.summary(live)}

    def eval_rows(self, lang: str) -> list[tuple[str, str]]:
        """(question, expected id) of the KB's eval file in one language, standalone ones."""
        if self.eval_csv is None or not self.eval_csv.is_file():
            return []
        with self.eval_csv.open(encoding="utf-8") as f:
            rows = [(r["query"], r.get("expected_id") or "") for r in csv.DictReader(f)
                    if r.get("lang") == lang and not (r.get("context") or "").strip()]
        return rows[:MAX_EVAL_ROWS]

    def impact(self, kb: KnowledgeBase, entry: Entry, real: Sequence[tuple[str, str]] = ()) -> Impact:
        """The eval questions of the entry's language and the recent real questions given (with the
        entry they reached, "" when none), asked of the live index and of the draft: which would now
        get another answer, and top1 / direct-answer rates before and after. Worse: top1 drops, or
        direct answers drop without top1 gaining.

        Only the questions near the edit are asked of the draft: those whose live top 3 or expected
        answer is this entry, and those whose text is close to its new questions and title (character
        n-grams). The others keep their live answer: the draft changes one entry, and what it moves
        elsewhere (classifiers retrained, n-gram statistics) is second order. The live answers are
        kept per index version, and a publication hands the draft's answers on to the next version."""
        engine = self.draft_engine(kb)
        live = self.service.engine
        asked = [*((q, exp, "eval") for q, exp in self.eval_rows(entry.lang)),
                 *((q, "", "real") for q, _ in real)]
        with ThreadPoolExecutor(max_workers=SEARCH_THREADS, thread_name_prefix="studio-impact") as pool:
            # the encoders and the scoring release the GIL for most of a search: one per core
            before = list(pool.map(lambda row: self._live(live, row[0], entry.lang), asked))
            near = self._near(entry, [q for q, _, _ in asked], before, [exp for _, exp, _ in asked])
            after = list(before)
            if engine is not live:
                found = pool.map(lambda i: engine.search(asked[i][0], lang=entry.lang, k=3), near)
                for i, result in zip(near, found, strict=True):
                    after[i] = result
        drafted = next((e for e in kb.entries if e.id == entry.id), entry)
        self._draft_results = (_entry_key(drafted), {(q, entry.lang): r for (q, _, _), r in zip(asked, after,
                                                                                                strict=True)})
        out = Impact(asked=len(asked), reasked=len(near) if engine is not live else 0)
        expected_total = sum(1 for _, exp, _ in asked if exp)
        tallies = {"before": [0, 0], "after": [0, 0]}       # top1 right, direct answers
        for (question, expected, source), b, a in zip(asked, before, after, strict=True):
            for name, result in (("before", b), ("after", a)):
                best = result.hits[0].id if result.hits else ""
                tallies[name][0] += int(bool(expected) and best == expected)
                tallies[name][1] += int(result.band == "answer")
            b_id = b.hits[0].id if b.hits else ""
            a_id = a.hits[0].id if a.hits else ""
            if (b_id, b.band) != (a_id, a.band):
                out.changed.append({"question": question, "source": source, "expected": expected,
                                    "before": {"id": b_id, "band": b.band},
                                    "after": {"id": a_id, "band": a.band}})
        n = max(len(asked), 1)
        for name in ("before", "after"):
            out.__dict__[name] = {"top1": round(tallies[name][0] / max(expected_total, 1), 4),
                                  "direct": round(tallies[name][1] / n, 4)}
        top1_drop = out.after["top1"] < out.before["top1"]
        direct_drop = out.after["direct"] < out.before["direct"] and out.after["top1"] <= out.before["top1"]
        out.worse = top1_drop or direct_drop
        return out

    @staticmethod
    def _near(entry: Entry, questions: list[str], before: list[SearchResult],
              expected: list[str]) -> list[int]:
        """Indexes of the questions an edit of `entry` may change (see impact)."""
        picked = {i for i, (r, exp) in enumerate(zip(before, expected, strict=True))
                  if exp == entry.id or any(h.id == entry.id for h in r.hits[:3])}
        texts = list(dict.fromkeys([*entry.questions, entry.title]))
        if questions and texts:
            vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), preprocessor=fold,
                                         sublinear_tf=True)
            matrix = vectorizer.fit_transform([*texts, *questions])
            sims = (matrix[len(texts):] @ matrix[:len(texts)].T).max(axis=1).toarray().ravel()
            picked.update(int(i) for i in np.flatnonzero(sims >= NEAR_SIMILARITY))
        return sorted(picked)

    def carry_over(self, entry_id: str) -> None:
        """After a publication: the draft's answers are the new live index's (same texts, same
        calibration), so the next impact check does not ask every eval question again."""
        drafted = self._draft_results
        live = self.service.engine
        published = next((e for e in live.index.entries if e.id == entry_id), None)
        if drafted is not None and published is not None and drafted[0] == _entry_key(published):
            self._live_results = (live.version, dict(drafted[1]))

    def warm(self) -> threading.Thread | None:
        """Has the live index answer the eval questions in the background, once per index version
        (an editor opened the studio): the first impact check of a session then finds them known
        instead of asking all of them (43 s for 5,000 on 2 cores). The thread runs at a lower CPU
        priority than the shoppers' turns, and stops when a newer index is installed."""
        live = self.service.engine
        with self._live_lock:
            if self._warmed == live.version or self.eval_csv is None:
                return None
            self._warmed = live.version
        self.warming = threading.Thread(target=self._warm, args=(live,), name="studio-warm", daemon=True)
        self.warming.start()
        return self.warming

    def _warm(self, live: SearchEngine) -> None:
        with contextlib.suppress(OSError, AttributeError):   # Linux: a thread has its own nice value
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WARM_NICENESS)
        for lang in sorted({e.lang for e in live.index.entries}):
            for question, _ in self.eval_rows(lang):
                if self.service.engine.version != live.version:
                    return
                self._live(live, question, lang)

    def _live(self, live: SearchEngine, question: str, lang: str) -> SearchResult:
        """The live index's answer, remembered per index version (the same eval questions are
        asked again at each save)."""
        with self._live_lock:
            cached = self._live_results
            if cached is None or cached[0] != live.version:
                cached = self._live_results = (live.version, {})
        key = (question, lang)
        found = cached[1].get(key)
        if found is None:
            found = cached[1][key] = live.search(question, lang=lang, k=3)
        return found

    # -- publishing ------------------------------------------------------------------------------

    def save(self, draft: EntryDraft, *, entry_id: str | None, base_version: str, author: str,
             email: str, message: str = "") -> tuple[Opened, str]:
        """Write the draft (a new entry when `entry_id` is None) if the file is still the version
        the editor started from; record it in the history. Returns the entry and the history's id."""
        with self._save_lock:
            current = self.unchanged_since(entry_id, base_version) if entry_id is not None else None
            issues, kb, text = self.check(draft, entry_id)
            errors = [i for i in issues if i.severity == "error"]
            if errors or kb is None:
                raise StudioError("invalid", "the draft has errors", issues=[i.to_dict() for i in issues])
            path = self.kb_dir / current.path if current is not None else self.new_path(draft)
            if current is None and path.exists():
                raise StudioError("conflict", f"a file {path.name} already exists")
            before = current.text if current is not None else None
            if before == text:
                return current, ""                     # nothing changed: nothing written, no version
            write_atomically(path, text)
            what = message.strip()[:200] or f"FAQ studio: {'update' if current else 'new entry'} {draft.id}"
            version = self.history.record(draft.id, path, before, author or email, email, what)
            return self.open(draft.id) if current is not None else self._opened_new(path, draft.id), version

    def _opened_new(self, path: Path, entry_id: str) -> Opened:
        data = path.read_bytes()
        text = data.decode("utf-8")
        return Opened(entry_id, path.relative_to(self.kb_dir).as_posix(), version_of(data), read_draft(text),
                      text)

    def versions(self, entry_id: str) -> list[Version]:
        opened = self.open(entry_id)
        return self.history.versions(entry_id, self.kb_dir / opened.path)

    def version_text(self, entry_id: str, version: str) -> str:
        opened = self.open(entry_id)
        text = self.history.text(entry_id, self.kb_dir / opened.path, version)
        if text is None:
            raise StudioError("not_found", f"no version {version!r} of {entry_id}")
        return text

    def restore(self, entry_id: str, version: str, *, base_version: str, author: str,
                email: str) -> tuple[Opened, str]:
        try:
            draft = read_draft(self.version_text(entry_id, version))
        except EntryFileError as exc:
            raise StudioError("invalid", f"that version cannot be read: {exc}") from exc
        return self.save(replace(draft, id=entry_id), entry_id=entry_id, base_version=base_version,
                         author=author, email=email,
                         message=f"FAQ studio: {entry_id} restored to {version[:12]}")


def questions_of(rows: Iterable[dict[str, Any]], entry: Entry) -> list[tuple[str, str]]:
    """Recent real questions (analytics' unanswered rows) that reached this entry or its
    contact reason's other entries: its neighbours."""
    out: dict[str, str] = {}
    for row in rows:
        q = str(row.get("q") or "").strip()
        if q and row.get("lang") in ("", entry.lang) and (
                row.get("entry") == entry.id or row.get("reason") == entry.reason):
            out.setdefault(q, str(row.get("entry") or ""))
    return list(out.items())[-200:]
